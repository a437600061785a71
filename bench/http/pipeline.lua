-- wrk script: each write carries 16 pipelined GET / requests, so the server
-- reads a batch of 16 at once (the notes' "first batch") and wrk counts
-- each of the 16 answers as a request.
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")

init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, "/")
    end
    batch = table.concat(r)
end

request = function()
    return batch
end
