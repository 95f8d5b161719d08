-- wrk script: PUT distinct manifests to distinct tags, as pushers do.
-- Arguments (after "--"): the repository's manifests path ("/v2/<name>/manifests/"), a label
-- that makes this run's tags unique, and the manifest template split at its placeholder
-- (head, tail): each request's body is head .. tag .. tail, so no two bodies have one digest.
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   base, label, head, tail = args[1], args[2], args[3], args[4]
   counter = 0
   headers = {["Content-Type"] = "application/vnd.oci.image.manifest.v1+json"}
end

function request()
   counter = counter + 1
   local tag = label .. "-t" .. id .. "-" .. counter
   return wrk.format("PUT", base .. tag, headers, head .. tag .. tail)
end

-- The same JSON line at the end as the plain requests' script.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
