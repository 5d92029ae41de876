-- A mixed FlickrKillr load for wrk: many users' pages and photos, some logged in.
--   40% user pages (2,000 users), 30% photo pages (30,000 photos),
--   20% photo files (the pool), 10% pages viewed with a session.
-- wrk -t2 -c64 -d10s -s mix.lua URL -- COOKIEFILE FILELIST   (see compare.sh)
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local cookies, files = {}, {}
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  for line in io.lines(args[1]) do table.insert(cookies, line) end
  for line in io.lines(args[2]) do table.insert(files, line) end
end
local function page()
  if math.random(7) <= 4 then
    return "/user/user" .. math.random(2000)
  end
  return "/photo/" .. math.random(30000)
end
request = function()
  local r = math.random(100)
  if r <= 40 then
    return wrk.format("GET", "/user/user" .. math.random(2000))
  elseif r <= 70 then
    return wrk.format("GET", "/photo/" .. math.random(30000))
  elseif r <= 90 then
    return wrk.format("GET", "/static/photos/" .. files[math.random(#files)])
  end
  return wrk.format("GET", page(), { ["Cookie"] = cookies[math.random(#cookies)] })
end
