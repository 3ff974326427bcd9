"""``/api/docs/``: the OpenAPI document as one self-contained HTML page.

Nothing is fetched from elsewhere (no CDN, no script): the page works on a lot's network with no internet
access, and the raw document is one link away at ``/api/schema/``.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } code, pre { font: 13px ui-monospace, monospace; }
pre { background: #f4f4f4; padding: 0.6rem; overflow-x: auto; }
section { border-top: 1px solid #ddd; padding: 0.6rem 0; }
.method { display: inline-block; min-width: 4rem; font-weight: bold; }
.get { color: #1b6ac9; } .post { color: #2b8a3e; } .put { color: #b35c00; } .delete { color: #c92a2a; }
table { border-collapse: collapse; } td, th { text-align: left; padding: 0.1rem 0.8rem 0.1rem 0; vertical-align: top; }
@media (prefers-color-scheme: dark) { body { background: #181818; color: #ddd; } pre { background: #262626; } }
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_text(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A readable example-like outline of a schema: ``{"slot_id": "integer", ...}``."""
    if depth > 8:
        return "..."
    if "$ref" in schema:
        return _schema_text(components.get(_ref_name(schema["$ref"]), {}), components, depth + 1)
    if "anyOf" in schema:
        parts = [_schema_text(s, components, depth + 1) for s in schema["anyOf"] if s.get("type") != "null"]
        return (
            parts[0] if len(parts) == 1 else " | ".join(json.dumps(p) if not isinstance(p, str) else p for p in parts)
        )
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if props:
            required = set(schema.get("required", ()))
            return {
                (name if name in required else f"{name}?"): _schema_text(sub, components, depth + 1)
                for name, sub in props.items()
            }
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {"<field>": _schema_text(extra, components, depth + 1)}
        return "object"
    if kind == "array":
        return [_schema_text(schema.get("items", {}), components, depth + 1)]
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind or "any")


def docs_page(spec: dict[str, Any]) -> str:
    components = spec.get("components", {}).get("schemas", {})
    info = spec.get("info", {})
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))} API</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} API <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<pre>{escape(info.get('description', ''))}</pre>",
        "<p>The machine-readable document: <a href='/api/schema/'><code>/api/schema/</code></a> (OpenAPI "
        f"{escape(str(spec.get('openapi', '3')))}).</p>",
    ]
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            secured = bool(op.get("security"))
            out.append("<section>")
            out.append(
                f"<h3><span class='method {escape(method)}'>{escape(method.upper())}</span> "
                f"<code>{escape(path)}</code></h3>"
            )
            out.append(f"<p>{escape(op.get('summary', ''))}{' - needs a token' if secured else ''}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
                        f"<td>{escape(str(_schema_text(p.get('schema', {}), components)))}</td>"
                        f"<td>{escape(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                outline = json.dumps(_schema_text(body, components), indent=2)
                out.append(f"<p>Body (JSON; <code>?</code> marks an optional field):</p><pre>{escape(outline)}</pre>")
            rows = []
            for status, resp in op.get("responses", {}).items():
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                shape = json.dumps(_schema_text(schema, components)) if schema else ""
                rows.append(
                    f"<tr><td><b>{escape(status)}</b></td><td>{escape(resp.get('description', ''))}</td>"
                    f"<td><code>{escape(shape)}</code></td></tr>"
                )
            out.append("<table>" + "".join(rows) + "</table>")
            out.append("</section>")
    out.append("</body></html>")
    return "".join(out)
