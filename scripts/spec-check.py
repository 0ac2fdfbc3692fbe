#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that uapi/linux/kmig.h matches the YNL spec of the kmig family.

For every attribute set and for the operations: the C enum named by
enum-name lists, after its UNSPEC entry, exactly the spec's names in the
spec's order. For every flags definition: each KMIG_* define has bit i.
For every const: the define has the value.

usage: spec-check.py SPEC HEADER
"""
import re
import sys

import yaml


def c_name(prefix, name):
    return (prefix + name).upper().replace('-', '_')


def enums(header):
    out = {}
    for m in re.finditer(r'enum\s+(\w+)\s*\{(.*?)\};', header, re.S):
        body = re.sub(r'/\*.*?\*/', '', m.group(2), flags=re.S)
        names = [e.split('=')[0].strip() for e in body.split(',')]
        out[m.group(1)] = [n for n in names if n]
    return out


def defines(header):
    out = {}
    for m in re.finditer(r'#define\s+(\w+)\s+(.+)', header):
        val = re.sub(r'/\*.*?\*/', '', m.group(2)).strip()
        out[m.group(1)] = val
    return out


def check_enum(errors, what, c_enum, expected):
    if c_enum is None:
        errors.append(f'{what}: enum missing from the header')
        return
    body = [n for n in c_enum if not n.startswith('__') and
            not n.endswith('_MAX') and not n.endswith('_UNSPEC')]
    if body != expected:
        errors.append(f'{what}: header {body} != spec {expected}')


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    header = open(sys.argv[2]).read()
    errors = []
    es, ds = enums(header), defines(header)

    for s in spec['attribute-sets']:
        prefix = s.get('name-prefix', spec['name'] + '-a-')
        enum = s['enum-name'].replace('-', '_')
        check_enum(errors, 'attribute set ' + s['name'], es.get(enum),
                   [c_name(prefix, a['name']) for a in s['attributes']])

    ops = spec['operations']
    check_enum(errors, 'operations', es.get(ops['enum-name'].replace('-', '_')),
               [c_name(ops['name-prefix'], o['name']) for o in ops['list']])

    for d in spec.get('definitions', []):
        if d['type'] == 'const':
            name = c_name(spec['name'] + '-', d['name'])
            if ds.get(name) != str(d['value']):
                errors.append(f'{name}: header {ds.get(name)} != {d["value"]}')
        elif d['type'] == 'flags':
            for i, e in enumerate(d['entries']):
                e = e if isinstance(e, str) else e['name']
                name = c_name(d['name-prefix'], e)
                val = ds.get(name, '')
                if not re.fullmatch(rf'\(1U?L{{0,2}} << {i}\)|_BITU?L{{1,2}}\({i}\)', val):
                    errors.append(f'{name}: header "{val}" is not bit {i}')

    for g in spec.get('mcast-groups', {}).get('list', []):
        name = c_name(spec['name'] + '-mcgrp-', g['name'])
        if ds.get(name) != f'"{g["name"]}"':
            errors.append(f'{name}: header {ds.get(name)} != "{g["name"]}"')

    for e in errors:
        print('spec-check: ' + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
