#!/usr/bin/env python3
"""The anchor for bench/manifests.sh: a pre-receive hook written the usual way,
with git and PyYAML's C loader, checking the kubernetes-baseline rules. Blobs
are listed by `git diff-tree -r` and read by id through one `git cat-file
--batch`. Violations are printed per file and document (PyYAML's plain loader
keeps no line numbers)."""
import re
import subprocess
import sys
import threading

import yaml

ZERO = "0" * 40
PINNED = re.compile(r"@sha256:[a-f0-9]{64}$|^(?:[^/@]+/)*[^/:@]+:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
POD_SPEC = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def git(*args):
    return subprocess.run(("git",) + args, check=True, capture_output=True).stdout


def dig(obj, keys):
    for k in keys:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def check_doc(doc, where, out):
    if not isinstance(doc, dict):
        return
    for key in ("apiVersion", "kind"):
        if key not in doc:
            out.append("error[k8s-%s] %s: missing %s" % (key.lower(), where, key))
    kind = doc.get("kind")
    if kind not in ("Kustomization", "List") and dig(doc, ("metadata", "name")) is None:
        out.append("error[k8s-metadata-name] %s: missing metadata.name" % where)
    if kind == "Secret" and "sops" not in doc:
        out.append("error[k8s-no-plain-secret] %s: plain Secret" % where)
    prefix = POD_SPEC.get(kind)
    spec = dig(doc, prefix) if prefix else None
    if not isinstance(spec, dict):
        return
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            out.append("error[k8s-no-host] %s: %s" % (where, flag))
    for v in spec.get("volumes") or []:
        if isinstance(v, dict) and "hostPath" in v:
            out.append("error[k8s-no-host-path] %s" % where)
    if dig(spec, ("securityContext", "runAsNonRoot")) is not True:
        out.append("warning[k8s-run-as-non-root] %s" % where)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        image = c.get("image")
        if not isinstance(image, str) or not PINNED.search(image):
            out.append("error[k8s-image-pinned] %s: %r" % (where, image))
        if dig(c, ("securityContext", "privileged")) is True:
            out.append("error[k8s-no-privileged] %s" % where)
        for res in ("cpu", "memory"):
            if dig(c, ("resources", "limits", res)) is None:
                out.append("error[k8s-%s-limit] %s" % (res, where))


def main():
    out = []
    for line in sys.stdin:
        old, new, ref = line.split()
        if new == ZERO:
            continue
        if old == ZERO:
            revs = git("rev-list", new, "--not", "--all").split()
        else:
            revs = git("rev-list", "%s..%s" % (old, new)).split()
        blobs = {}
        for rev in revs:
            raw = git("diff-tree", "-r", "--root", "--no-commit-id", "-z", rev.decode())
            fields = raw.split(b"\0")
            for i in range(0, len(fields) - 1, 2):
                meta, path = fields[i].split(), fields[i + 1].decode()
                if meta[4] != b"D" and path.endswith((".yaml", ".yml")):
                    blobs.setdefault(path, meta[3].decode())
        paths = sorted(blobs)
        p = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        # Feed the ids from a thread: cat-file's output pipe would fill first.
        ids = "".join(blobs[path] + "\n" for path in paths).encode()
        def feed():
            p.stdin.write(ids)
            p.stdin.close()
        writer = threading.Thread(target=feed)
        writer.start()
        for path in paths:
            header = p.stdout.readline().split()
            data = p.stdout.read(int(header[2]))
            p.stdout.read(1)
            try:
                for n, doc in enumerate(yaml.load_all(data, Loader=yaml.CSafeLoader)):
                    check_doc(doc, "%s (document %d)" % (path, n + 1), out)
            except yaml.YAMLError as e:
                out.append("error[syntax] %s: %s" % (path, str(e).replace("\n", " ")))
        writer.join()
        p.wait()
    for o in out:
        print(o, file=sys.stderr)
    return 1 if any(o.startswith("error") for o in out) else 0


if __name__ == "__main__":
    sys.exit(main())
