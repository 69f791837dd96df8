"""Static MicroPython-compatibility check for the board agent (run with CPython 3.9+).

Rejects what MicroPython does not parse or ship: type annotations, f-strings,
walrus, match, except*, print(flush=...), stdlib modules MicroPython lacks
(unless imported inside try/except ImportError), and str/bytes methods it
does not implement. Usage: python3 mpy_compat.py FILE... ; prints one
problem per line and exits 1 when there are any.
"""
import ast
import sys

# Modules MicroPython ports ship (ESP32 / unix / rp2), or that the agent only
# imports inside try/except ImportError or inside a backend method.
MICROPYTHON_MODULES = {
    'sys', 'time', 'json', 'asyncio', 'uasyncio', 'binascii', 'ubinascii', 'hashlib', 'os', 'random',
    'math', 'struct', 'select', 'socket', 'errno', 'gc', 'io', 're', 'machine', 'network', 'esp32', 'ssl',
    'array', 'micropython',
}
# Imported only on CPython / Raspberry Pi, always guarded.
GUARDED_ONLY = {'threading', 'lgpio', 'signal'}
MISSING_METHODS = {'removeprefix', 'removesuffix', 'casefold', 'format_map', 'expandtabs', 'zfill', 'swapcase', 'isidentifier', 'isprintable', 'maketrans', 'translate'}


def guarded(node, parents):
    for p in parents:
        if isinstance(p, ast.Try):
            for h in p.handlers:
                names = []
                if isinstance(h.type, ast.Name):
                    names = [h.type.id]
                elif isinstance(h.type, ast.Tuple):
                    names = [e.id for e in h.type.elts if isinstance(e, ast.Name)]
                if 'ImportError' in names or h.type is None:
                    return True
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True  # imported lazily by a backend that only runs where the module exists
    return False


def check(path):
    import os
    here = os.path.dirname(os.path.abspath(path))
    # The agent's own modules, deployed in the same folder.
    local = {f[:-3] for f in os.listdir(here) if f.endswith('.py')}
    local.add('config')  # config.py: the user's copy of config.example.py
    source = open(path).read()
    tree = ast.parse(source, path)
    problems = []

    def report(node, what):
        problems.append('{}:{}: {}'.format(path, getattr(node, 'lineno', 0), what))

    def walk(node, parents):
        if isinstance(node, ast.AnnAssign):
            report(node, 'variable annotation')
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.returns is not None:
                report(node, 'return annotation')
            args = node.args
            for a in args.args + args.kwonlyargs + getattr(args, 'posonlyargs', []) + [args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    report(node, 'argument annotation')
            if getattr(args, 'posonlyargs', []):
                report(node, 'positional-only parameters')
            for d in node.decorator_list:
                name = d.id if isinstance(d, ast.Name) else getattr(d, 'attr', '')
                if name in ('dataclass', 'lru_cache', 'cached_property', 'overload'):
                    report(node, 'decorator ' + name)
        if isinstance(node, ast.JoinedStr):
            report(node, 'f-string (use str.format)')
        if isinstance(node, ast.NamedExpr):
            report(node, 'walrus operator')
        if type(node).__name__ in ('Match', 'TryStar'):
            report(node, type(node).__name__ + ' statement')
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or '']
            for name in names:
                root = name.split('.')[0]
                if root in MICROPYTHON_MODULES or root in local:
                    continue
                if root in GUARDED_ONLY and guarded(node, parents):
                    continue
                if guarded(node, parents) and root in GUARDED_ONLY:
                    continue
                report(node, 'module {} is not in MicroPython'.format(name))
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if isinstance(node.func, ast.Name) and node.func.id == 'print' and kw.arg == 'flush':
                    report(node, 'print(flush=...)')
            if isinstance(node.func, ast.Attribute) and node.func.attr in MISSING_METHODS:
                report(node, 'method .{}() is not in MicroPython'.format(node.func.attr))
        for child in ast.iter_child_nodes(node):
            walk(child, parents + [node])

    walk(tree, [])
    return problems


if __name__ == '__main__':
    found = []
    for p in sys.argv[1:]:
        found.extend(check(p))
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
