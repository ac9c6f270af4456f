-- Replays pre-built requests from a file, one line each: "METHOD\tPATH\tAUTHORIZATION\tBODY".
-- Each wrk thread takes its own file (<prefix>.<thread index>), so requests that must stay
-- in order (a phone's rising counter) stay on one thread and one connection.
local counter = 0
local threads = {}
local lines = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] .. "." .. tostring(index)
  for line in io.lines(path) do
    local method, target, auth, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(lines, wrk.format(method, target, {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body))
  end
end

function request()
  counter = counter + 1
  if counter > #lines then
    counter = 1 -- ran out: replays are refused (409) and show up as non-2xx in the report
  end
  return lines[counter]
end
