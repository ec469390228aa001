-- wrk script of the anonymous flood (stress/checks/anonymous_flood.ts):
-- requests without a cookie; counts answers, 5xx and answers with a
-- Set-Cookie header; each thread stops after its share of the requests.
-- Usage: wrk -t T -c C -d SECONDS -s flood.lua URL -- REQUESTS_PER_THREAD

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1])
  answers = 0
  set_cookie = 0
  status_5xx = 0
  other_status = 0
end

function response(status, headers, body)
  answers = answers + 1
  if status >= 500 then
    status_5xx = status_5xx + 1
  elseif status ~= 200 then
    other_status = other_status + 1
  end
  for name, _ in pairs(headers) do
    if string.lower(name) == "set-cookie" then
      set_cookie = set_cookie + 1
    end
  end
  if answers == limit then
    -- wrk runs until its -d duration unless interrupted: tell the harness,
    -- which sends SIGINT (wrk then reports as usual).
    io.write("LIMIT\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local a, s, e, o = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("answers")
    s = s + t:get("set_cookie")
    e = e + t:get("status_5xx")
    o = o + t:get("other_status")
  end
  local errors = summary.errors
  io.write(string.format(
    "FLOOD answers=%d set_cookie=%d status_5xx=%d other_status=%d socket_errors=%d\n",
    a, s, e, o, errors.connect + errors.read + errors.write + errors.timeout))
end
