#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (`npm run build` first).
import '../dist/src/cli/main.js';
