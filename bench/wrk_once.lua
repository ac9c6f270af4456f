-- bench/wrk.lua, sending each line once: a connection that finds every line of its thread sent
-- waits (delay) instead of replaying; once every line sent is answered the thread stops and
-- writes <prefix>.<index>.done, and the bench interrupts wrk (SIGINT), which then reports the
-- time the lines really took. With a second argument "keep", each 2xx answer's body is written,
-- one a line, to <prefix>.<index>.bodies (the redemption codes the phones got). wrk runs from
-- the repository's root.
dofile("bench/wrk.lua")

local replay_init = init
local replay_response = response
local bodies = nil

function init(args)
  replay_init(args)
  once = true
  if args[2] == "keep" then
    bodies = io.open(prefix .. "." .. tostring(index) .. ".bodies", "w")
  end
end

function delay()
  if counter >= #lines then
    return 3600000
  end
  return 0
end

function response(status, headers, body)
  if bodies and status >= 200 and status < 300 then
    bodies:write(body, "\n")
    bodies:flush()
  end
  replay_response(status, headers, body)
end
