-- Replays pre-built requests from a file, one line each: "METHOD\tPATH\tAUTHORIZATION\tBODY", or
-- "METHOD\tPATH\tAUTHORIZATION\tTIME\tBODY" where TIME (microseconds since the epoch) goes in the
-- x-bench-time header: the instant the request happens on the bench's simulated clock
-- (bench/sim_clock.py). An empty AUTHORIZATION or TIME sends no such header.
-- Each wrk thread takes its own file (<prefix>.<thread index>), so requests that must stay
-- in order (a phone's rising counter, a till's hour) stay on one thread.
--
-- The lines are replayed until wrk's duration ends (running out starts them again: replays are
-- refused or answered again, and show in the counts). bench/wrk_once.lua sends each line once.
--
-- done() prints one line "bench-counts sent=.. received=.. ok=.. conflict=.. failed=.." summed over
-- the threads: ok counts 2xx answers, conflict 409s (a replay, among others), failed 5xx; and
-- sent - received is what was in flight when wrk stopped.
threads = {}
lines = {}
counter = 0
sent = 0
received = 0
ok = 0
conflict = 0
failed = 0
once = false
prefix = ""
checking = false

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  -- wrk calls request() once on thread 0 before it starts, to check the request: not a request sent.
  checking = index == 0
  local path = prefix .. "." .. tostring(index)
  for line in io.lines(path) do
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
    end
    local method, target, auth, time, body = fields[1], fields[2], fields[3], "", fields[4]
    if #fields >= 5 then
      time, body = fields[4], table.concat(fields, "\t", 5)
    end
    local headers = {["Content-Type"] = "application/json"}
    if auth ~= "" then
      headers["Authorization"] = auth
    end
    if time ~= "" then
      headers["x-bench-time"] = time
    end
    table.insert(lines, wrk.format(method, target, headers, body))
  end
end

function request()
  if checking then
    checking = false
    return lines[1]
  end
  sent = sent + 1
  counter = counter + 1
  if counter > #lines then
    counter = 1 -- ran out: replays are refused (409) or answered again
  end
  return lines[counter]
end

function response(status, headers, body)
  received = received + 1
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 409 then
    conflict = conflict + 1
  elseif status >= 500 then
    failed = failed + 1
  end
  if once and (received % 50 == 0 or counter >= #lines) then
    local progress = io.open(prefix .. "." .. tostring(index) .. ".progress", "w")
    progress:write(string.format("sent=%d received=%d ok=%d lines=%d status=%d\n", sent, received, ok, #lines, status))
    progress:close()
  end
  if once and counter >= #lines and received == sent then
    local done = io.open(prefix .. "." .. tostring(index) .. ".done", "w")
    done:write("done\n")
    done:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local totals = {sent = 0, received = 0, ok = 0, conflict = 0, failed = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  io.write(string.format("bench-counts sent=%d received=%d ok=%d conflict=%d failed=%d\n",
    totals.sent, totals.received, totals.ok, totals.conflict, totals.failed))
end
