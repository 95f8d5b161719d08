-- wrk script: the plain requests given on the command line (a GET with -H headers), and one
-- JSON line at the end that the benchmark reads (wrk's own report is for people).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
