"""One MCP request to Almanac with the official Python SDK (`mcp`), over Streamable HTTP.

    call.py URL ACTION [JSON]      (the bearer in ALMANAC_MCP_TOKEN)

ACTION is `tools` (list them), `resources` (list them), `read` (JSON: {"uri"}) or a tool's
name (JSON: its arguments). Prints one JSON object: the SDK's answer as the wire names it,
and for a tool the progress notifications the SDK delivered before `call_tool` returned.
Used by tests/src/mcp.rs; each run is a fresh client, as an agent's would be.
"""

import asyncio
import json
import os
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def dump(model):
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


async def main() -> None:
    url, action = sys.argv[1], sys.argv[2]
    arguments = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    token = os.environ["ALMANAC_MCP_TOKEN"]
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, cache=None) as client:
            if action == "tools":
                out = dump(await client.list_tools())
            elif action == "resources":
                out = dump(await client.list_resources())
            elif action == "read":
                out = dump(await client.read_resource(arguments["uri"]))
            else:
                result = await client.call_tool(action, arguments, progress_callback=on_progress)
                out = dump(result)
                out["progressBeforeResult"] = progress
    print(json.dumps(out))


asyncio.run(main())
