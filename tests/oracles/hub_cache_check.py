#!/usr/bin/env python3
"""Hugging Face Hub cache oracle: huggingface_hub itself reads or writes a cache, so SharpTune's layout is checked
against the library whose layout it copies.

  check     --cache DIR --repo ID --revision REV --expect FILE.json
            The cache (written by SharpTune) must be readable by huggingface_hub: scan_cache_dir() reports no warnings
            and a revision with the expected refs, snapshot_download(local_files_only=True) and hf_hub_download(
            local_files_only=True) / try_to_load_from_cache() find every expected file, whose sha256 must match
            FILE.json ({"path": "sha256"}).
  download  --cache DIR --repo ID --revision REV --endpoint URL
            huggingface_hub downloads the repo from URL (a Hub protocol server) into DIR; SharpTune then reads it.

Prints one JSON line; exits 1 when a check fails.
"""
import argparse
import hashlib
import json
import os
import sys


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["check", "download"])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--revision", default="main")
    parser.add_argument("--expect")
    parser.add_argument("--endpoint")
    args = parser.parse_args()

    # huggingface_hub reads these when it is imported.
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_ENABLE_HF_TRANSFER"):
        os.environ.pop(name, None)
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HOME"] = args.cache.rstrip("/") + "-hf-home"
    if args.endpoint:
        os.environ["HF_ENDPOINT"] = args.endpoint
    import huggingface_hub as hub

    if args.mode == "download":
        snapshot = hub.snapshot_download(args.repo, revision=args.revision, cache_dir=args.cache, token=False)
        print(json.dumps({"ok": True, "version": hub.__version__, "snapshot": snapshot}))
        return 0

    expected = json.load(open(args.expect, encoding="utf-8"))
    errors = []
    info = hub.scan_cache_dir(args.cache)
    errors += [f"scan_cache_dir warning: {w}" for w in info.warnings]
    repos = [r for r in info.repos if r.repo_id == args.repo]
    if len(repos) != 1:
        errors.append(f"scan_cache_dir found {len(repos)} repos named {args.repo}")
    else:
        refs = {ref for revision in repos[0].revisions for ref in revision.refs}
        if args.revision not in refs and len(args.revision) != 40:
            errors.append(f"scan_cache_dir: no revision has the ref {args.revision} (refs: {sorted(refs)})")
        files = {f.file_name for revision in repos[0].revisions for f in revision.files}
        for path in expected:
            if os.path.basename(path) not in files:
                errors.append(f"scan_cache_dir: {path} missing from the revisions")

    snapshot = hub.snapshot_download(args.repo, revision=args.revision, cache_dir=args.cache, local_files_only=True)
    for path, digest in expected.items():
        cached = hub.try_to_load_from_cache(args.repo, path, cache_dir=args.cache, revision=args.revision)
        if not isinstance(cached, str):
            errors.append(f"try_to_load_from_cache({path}) found nothing")
            continue
        downloaded = hub.hf_hub_download(args.repo, path, revision=args.revision, cache_dir=args.cache, local_files_only=True)
        if os.path.realpath(downloaded) != os.path.realpath(cached):
            errors.append(f"{path}: hf_hub_download gives {downloaded}, try_to_load_from_cache {cached}")
        if os.path.realpath(os.path.join(snapshot, path)) != os.path.realpath(cached):
            errors.append(f"{path}: not under the snapshot folder {snapshot}")
        if sha256(cached) != digest:
            errors.append(f"{path}: sha256 {sha256(cached)} != {digest}")
    print(json.dumps({"ok": not errors, "version": hub.__version__, "snapshot": snapshot, "errors": errors}))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
