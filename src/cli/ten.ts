#!/usr/bin/env -S node --max-semi-space-size=1
import { run } from './program.js';

process.exitCode = await run(process.argv);
