#!/usr/bin/env python3
"""Checks the layering rules of src/ (docs/ARCHITECTURE.md, "Rooms and
layers"); prints each violation and exits 1 when there is one.

1. Rooms are ordered; a file includes headers of its own room or of rooms
   below it only:
     util < image, store, server, upstream, config < core < providers
          < pipeline < api < cli < main
   Rooms on one floor do not include each other.
2. No include cycles between modules (a module is x.c with x.h; a room's
   private headers are its own wiring and are left out).
3. A function a header declares is defined in that header's own .c file
   (the header is its module's whole public surface), so calls follow
   includes and a cycle of calls is a cycle of includes, which rule 2
   finds. A header without a .c of its own (a table of handlers, a
   vtable) may declare functions of its room's files.
4. <curl/curl.h> is included by upstream/ only.
5. A header marked "private to" (in its opening comment) or named
   *internal.h is included only from its own room.
6. The environment is read by config.c alone (getenv)."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FLOORS = {"util": 0, "image": 1, "store": 1, "server": 1, "upstream": 1, "config": 1,
          "core": 2, "providers": 3, "pipeline": 4, "api": 5, "cli": 6, "main": 7}

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)
DECL = re.compile(r'^(?!static|typedef|extern|#|\s|/|\*|struct \w+ \{|enum|union|\})'
                  r'[\w\s\*]*?\b(ig_\w+)\s*\(', re.M)
DEF = re.compile(r'^(?!static)[\w][\w\s\*]*?\b(ig_\w+)\s*\([^;{]*\)\s*\{', re.M)


def room(rel):
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else os.path.splitext(parts[0])[0]


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def main():
    files = {}
    for d, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                files[os.path.relpath(p, ROOT)] = open(p, encoding="utf-8").read()
    bad = []
    includes = {rel: [m.group(2) for m in INCLUDE.finditer(strip_comments(t)) if m.group(1) == '"']
                for rel, t in files.items()}
    for rel, text in files.items():
        r = room(rel)
        code = strip_comments(text)
        for m in INCLUDE.finditer(code):
            target = m.group(2)
            if m.group(1) == "<":
                if target == "curl/curl.h" and r != "upstream":
                    bad.append("%s: includes <curl/curl.h>; only upstream/ may" % rel)
                continue
            if target not in files:
                continue
            tr = room(target)
            if tr != r and (FLOORS.get(tr, 0) >= FLOORS.get(r, 0)):
                bad.append("%s: includes %s (room %s is not below %s)" % (rel, target, tr, r))
            head = files[target][:600]
            private = "private to" in head or target.endswith("internal.h")
            if private and tr != r:
                bad.append("%s: includes %s, private to %s/" % (rel, target, tr))
        if re.search(r"\bgetenv\s*\(", code) and rel != "config.c":
            bad.append("%s: reads the environment; ig_config_env() is the one place" % rel)
    # 2. module cycles
    mod = lambda rel: os.path.splitext(rel)[0]
    graph = {}
    private = {rel for rel, t in files.items() if rel.endswith(".h") and
               ("private to" in t[:600] or rel.endswith("internal.h"))}
    for rel, incs in includes.items():
        if rel in private:
            continue
        for t in incs:
            if t in files and t not in private and mod(t) != mod(rel):
                graph.setdefault(mod(rel), set()).add(mod(t))
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                bad.append("include cycle: " + " -> ".join(cyc))
            elif not state.get(m):
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if not state.get(n):
            visit(n)
    # 3. declarations defined in their header's own .c
    defined = {}
    for rel, text in files.items():
        if rel.endswith(".c"):
            for m in DEF.finditer(strip_comments(text)):
                defined.setdefault(m.group(1), rel)
    for rel, text in files.items():
        if not rel.endswith(".h"):
            continue
        own = rel[:-2] + ".c"
        if own not in files:
            continue
        for m in DECL.finditer(strip_comments(text)):
            name = m.group(1)
            where = defined.get(name)
            if where and where != own:
                bad.append("%s declares %s, defined in %s" % (rel, name, where))
    for b in bad:
        print(b)
    print("layering: %d file(s), %d violation(s)" % (len(files), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
