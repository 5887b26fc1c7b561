#!/usr/bin/env node
// The demo tenant: a tiny notes app that serves one customer. tenement gives it PORT and DATA_DIR
// (its own directory); it stores notes there as JSON.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const port = Number(process.env.PORT);
const dataDir = process.env.DATA_DIR ?? '.';
const file = path.join(dataDir, 'notes.json');
const tenant = process.env.TENEMENT_INSTANCE ?? 'unknown';
const load = () => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : []);

http
  .createServer((req, res) => {
    if (req.url === '/health') return res.end('ok');
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const notes = [...load(), { at: new Date().toISOString(), text: body }];
        fs.writeFileSync(file, JSON.stringify(notes, null, 1));
        console.log(`note added for ${tenant}: ${body.slice(0, 60)}`);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ tenant, notes: notes.length }));
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tenant, pid: process.pid, notes: load() }, null, 1) + '\n');
  })
  .listen(port, '127.0.0.1', () => console.log(`notes for ${tenant} listening on 127.0.0.1:${port}`));
