-- The wrk script of scripts/bench_checkin --wrk: every request of a data
-- file sent exactly once, the answers told apart by HTTP status and body.
--
-- args (after "--"): datafile marker ping_path ping_status ping_pattern
--                    ok_status ok_pattern dup_status dup_pattern
-- datafile: one request per line: method<TAB>path<TAB>body<TAB>Name: value...
-- An answer with ok_status whose body matches ok_pattern (a Lua pattern, ""
-- for any) is a created check-in, the same with dup_* a duplicate; any
-- other answer is counted by status.  Once every request is sent, a
-- connection sends GET <ping_path> (answered ping_status with a body that
-- matches ping_pattern) instead of idling: an idle connection would hold a
-- gunicorn sync worker in a blocking read.  The pings are counted apart but
-- are in wrk's latency histogram (they come only at the end).
-- When every check-in is answered, the thread writes <marker> and stops;
-- the caller then ends wrk with SIGINT and reads the BENCH_JSON line.
-- Run with -t 1: one Lua state sees every answer.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } wrk_bench_timespec;
int clock_gettime(int clk_id, wrk_bench_timespec *tp);
]]
local clock = ffi.new("wrk_bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  marker = args[2]
  ping_status, ping_pattern = tonumber(args[4]), args[5]
  ok_status, ok_pattern = tonumber(args[6]), args[7]
  dup_status, dup_pattern = tonumber(args[8]), args[9]
  requests = {}
  for line in io.lines(args[1]) do
    local fields = {}
    for f in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = f end
    local headers = {}
    for k = 4, #fields do
      local name, value = fields[k]:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
    end
    requests[#requests + 1] = wrk.format(
      fields[1], fields[2], headers, fields[3])
  end
  ping = wrk.format("GET", args[3])
  expected = #requests
  sent, answered, pings, pinged = 0, 0, 0, 0
  created, duplicates, others = 0, 0, 0
  statuses = {}
  latencies = {}
  started = {}
  first_t, last_t = nil, nil
  checked = false
end

function request()
  -- wrk calls request() once before the run to check it: nothing is sent
  if not checked then
    checked = true
    return requests[1]
  end
  if sent < expected then
    sent = sent + 1
    if first_t == nil then first_t = now() end
    return requests[sent]
  end
  pings = pings + 1
  return ping
end

local function matches(body, pattern)
  return pattern == "" or body:find(pattern) ~= nil
end

function response(status, headers, body)
  if pings > 0 and status == ping_status and matches(body, ping_pattern) then
    pinged = pinged + 1
    return
  end
  answered = answered + 1
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == ok_status and matches(body, ok_pattern) then
    created = created + 1
  elseif status == dup_status and matches(body, dup_pattern) then
    duplicates = duplicates + 1
  else
    others = others + 1
  end
  if answered >= expected then
    last_t = now()
    local f = io.open(marker, "w")
    if f then f:write("done\n"); f:close() end
    wrk.thread:stop()
  end
end

local function encode(v)
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then
      return string.format("%d", v)
    end
    return string.format("%.9f", v)
  elseif t == "string" then return string.format("%q", v)
  elseif t == "table" then
    local parts = {}
    for k, x in pairs(v) do
      parts[#parts + 1] = string.format("%q", tostring(k)) .. ": " .. encode(x)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "null"
end

function done(summary, latency, _)
  local t = threads[1]
  io.write("BENCH_JSON " .. encode({
    expected = t:get("expected"), sent = t:get("sent"),
    answered = t:get("answered"), created = t:get("created"),
    duplicates = t:get("duplicates"), others = t:get("others"),
    statuses = t:get("statuses"), pings = t:get("pinged"),
    first_t = t:get("first_t"), last_t = t:get("last_t"),
    err_connect = summary.errors.connect, err_read = summary.errors.read,
    err_write = summary.errors.write, err_timeout = summary.errors.timeout,
    p50_us = latency:percentile(50), p95_us = latency:percentile(95),
    p99_us = latency:percentile(99), max_us = latency.max,
  }) .. "\n")
end
