#!/usr/bin/env python3
# Reduce a kubeconform-layout _definitions.json to what the gate checks: the
# descriptions are dropped (they are most of the bytes), keys sorted, no
# spaces. Used when a Kubernetes version's definitions are added under
# data/kubernetes-schema/ (see docs/manifests.md):
#   python3 scripts/k8s-schema-strip.py < _definitions.json | gzip -9n > _definitions.json.gz
import json
import sys


def strip(s):
    if isinstance(s, dict):
        out = {}
        for k, v in s.items():
            if k == "description":
                continue
            if k in ("properties", "definitions", "patternProperties") and isinstance(v, dict):
                # Field names, not keywords: a field may well be called "description".
                out[k] = {name: strip(sub) for name, sub in v.items()}
            else:
                out[k] = strip(v)
        return out
    if isinstance(s, list):
        return [strip(x) for x in s]
    return s


json.dump(strip(json.load(sys.stdin)), sys.stdout, separators=(",", ":"), sort_keys=True)
