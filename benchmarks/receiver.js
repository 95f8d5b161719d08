// The benchmarks' webhook receiver: records when each manifest push event arrives, by tag.
//
// A process of its own (Node's event loop costs a POST a few tens of microseconds), so the
// receiver neither shares the pushers' GIL nor caps the delivery rate it is measuring.
// Arrival times are CLOCK_MONOTONIC seconds (process.hrtime), the clock of Python's
// time.perf_counter on Linux, so the script can subtract its own timestamps from them.
//
//   node receiver.js PORT
//   POST /hook          an event: bare, the reference's envelope, or a CloudEvent
//   POST /gate/close    hold every POST's answer (a backlog builds up in the registry)
//   POST /gate/open     answer the held POSTs and every later one at once
//   GET  /count         how many push events have arrived
//   GET  /held          how many POSTs wait for the gate to open
//   GET  /arrivals      {"tag": seconds, ...} of every push event (first arrival)
'use strict';
const http = require('http');

const arrivals = new Map();
let held = [];
let gateOpen = true;

function record(body) {
  const now = Number(process.hrtime.bigint()) / 1e9;
  let payload;
  try { payload = JSON.parse(body); } catch (e) { return; }
  let events = [payload];
  if (payload && Array.isArray(payload.events)) events = payload.events;
  else if (payload && payload.specversion) events = [payload.data || {}];
  for (const event of events) {
    const tag = event && event.target && event.target.tag;
    if (event && event.action === 'push' && tag && !arrivals.has(tag)) arrivals.set(tag, now);
  }
}

function answer(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/count') return answer(res, 200, String(arrivals.size));
    if (req.method === 'GET' && req.url === '/held') return answer(res, 200, String(held.length));
    if (req.method === 'GET' && req.url === '/arrivals') {
      return answer(res, 200, JSON.stringify(Object.fromEntries(arrivals)));
    }
    if (req.url === '/gate/close') { gateOpen = false; return answer(res, 200, '{}'); }
    if (req.url === '/gate/open') {
      gateOpen = true;
      for (const r of held) answer(r, 200, '');
      held = [];
      return answer(res, 200, '{}');
    }
    record(Buffer.concat(chunks).toString());
    if (gateOpen) answer(res, 200, '');
    else held.push(res);
  });
}).listen(parseInt(process.argv[2], 10), '127.0.0.1');
