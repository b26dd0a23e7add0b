#!/usr/bin/env python3
"""Fails if a module of a crate imports one that imports it back.

Dependencies run one way (http -> oauth -> service -> store -> core; see the
README's layout table): a two-way import between modules is a layering
mistake. Reads `crate::`, `super::` and `self::` paths of each module (doc
comments and unit tests left out), resolves them to the module files they
name, and prints each pair that imports the other, and the crate's
top-level module graph, where a two-way pair (http <-> oauth) fails too.
`state` (AppState, which the use cases take and which holds their parts)
counts as part of `service`.

Usage: scripts/check-module-cycles.py crates/idp-server/src crates/idp-store/src …
"""
import glob
import os
import re
import sys


def modules(root):
    found = {}
    for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
        parts = os.path.relpath(path, root)[:-3].split(os.sep)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        found["::".join(parts)] = path
    return found


def resolve(mods, current, path):
    segs = path.split("::")
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "super":
        base = current.split("::")[:-1] if current else []
        segs = segs[1:]
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    else:  # self
        base, segs = (current.split("::") if current else []), segs[1:]
    for i in range(len(segs), -1, -1):
        candidate = "::".join(base + segs[:i])
        if candidate in mods:
            return candidate
    return None


def check(root):
    mods = modules(root)
    edges = set()
    for module, path in mods.items():
        src = open(path, encoding="utf-8").read()
        src = re.sub(r"//[^\n]*", "", src)
        src = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", src, flags=re.S)
        for match in re.finditer(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", src):
            target = resolve(mods, module, match.group(1))
            if target and target != module and not module.startswith(target + "::"):
                edges.add((module, target))
    two_way = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    top = {}
    layer = lambda m: {"state": "service"}.get(m.split("::")[0], m.split("::")[0]) or "(root)"
    for a, b in edges:
        ta, tb = layer(a), layer(b)
        if ta != tb:
            top.setdefault(ta, set()).add(tb)
    two_way += sorted({tuple(sorted((a, b))) for a in top for b in top[a] if a in top.get(b, ())})
    print(f"{root}: {len(mods)} modules, {len(edges)} imports between them")
    for name in sorted(top):
        print(f"  {name} -> {', '.join(sorted(top[name]))}")
    for a, b in two_way:
        print(f"  TWO-WAY: {a} <-> {b}")
    return not two_way


if __name__ == "__main__":
    ok = all([check(root) for root in sys.argv[1:]])
    sys.exit(0 if ok else 1)
