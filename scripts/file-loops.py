#!/usr/bin/env python3
"""Loops of mutually calling files in src/: the strongly connected components of the
file-level call graph, read from the symbols of the built objects (nm of BUILD/obj).

A file calls another when it uses a symbol the other defines. Prints one line per loop
(`N file file ...`, largest first). With --check DOC: exits 1 when a loop spans more than
MAX files (default 3) or when a smaller loop is not named on one line of DOC's section
`## Small loops` (docs/hacking.md), which says why it stays."""
import argparse, collections, glob, os, re, subprocess, sys


def graph(build):
    defs, uses = {}, collections.defaultdict(set)
    root = os.path.join(build, 'obj') + '/'
    for o in sorted(glob.glob(root + 'src/**/*.o', recursive=True)):
        src = o[len(root):-2] + '.c'
        if not os.path.exists(src):
            continue  # a stale object of a moved or removed file
        out = subprocess.run(['nm', o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in 'TDBRV':
                defs[p[2]] = src
            elif len(p) == 2 and p[0] == 'U':
                uses[src].add(p[1])
    files = set(defs.values()) | set(uses)
    return {f: {defs[s] for s in uses.get(f, ()) if s in defs and defs[s] != f} for f in files}


def loops(g):
    """Tarjan's algorithm, iterative (the graph has a few hundred files)."""
    index, low, on, stack, comps, n = {}, {}, set(), [], [], 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = n; n += 1; stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = n; n += 1; stack.append(w); on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return sorted(comps, key=lambda c: (-len(c), c))


def named_loops(doc):
    if not os.path.exists(doc):
        print(f'{doc} is missing: no loop is named', file=sys.stderr)
        return []
    text = open(doc, encoding='utf-8').read()
    m = re.search(r'^## Small loops\n(.*?)(?=^## |\Z)', text, re.S | re.M)
    return m.group(1).splitlines() if m else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default='build')
    ap.add_argument('--check', metavar='DOC')
    ap.add_argument('--max', type=int, default=3)
    a = ap.parse_args()
    comps = loops(graph(a.build))
    bad = 0
    lines = named_loops(a.check) if a.check else []
    for c in comps:
        why = ''
        if a.check:
            if len(c) > a.max:
                why = f'  <- spans more than {a.max} files'
            elif not any(all(f in l for f in c) for l in lines):
                why = f'  <- not named in {a.check} (## Small loops)'
            bad += bool(why)
        print(len(c), ' '.join(c) + why)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
