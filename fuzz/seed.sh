#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/TARGET, not committed) from the
# project's own inputs: the lessons (scenarios/*.ron), the test manifests
# (tests/manifests, scenarios/manifests), and kubectl lines from the
# lessons, the tests and the format reference. Run from anywhere; adds
# files, never removes any (a corpus grown by earlier runs is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
c=fuzz/corpus
mkdir -p "$c"/{scenario,manifest,kubectl,diff,branch}
for f in scenarios/*.ron; do
    b=$(basename "$f" .ron)
    cp "$f" "$c/scenario/$b.ron"
    # diff: the lesson against itself (no NUL), and against the sandbox.
    cp "$f" "$c/diff/$b.ron"
    { cat "$f"; printf '\0'; cat scenarios/00-sandbox.ron; } >"$c/diff/$b-vs-sandbox"
    # branch: the lesson, then (delay, action) byte pairs after a NUL.
    { cat "$f"; printf '\0\002\000\006\001\030\002'; } >"$c/branch/$b"
done
for f in tests/manifests/*.yaml tests/manifests/*/*.yaml scenarios/manifests/*.yaml; do
    cp "$f" "$c/manifest/$(echo "$f" | tr / _)"
done
# kubectl: each known line alone, and the lessons' lines as one session.
{
    grep -ho 'Kubectl("[^"]*")' scenarios/*.ron | sed 's/^Kubectl("//; s/")$//'
    grep -ho 'sh.line("[^"]*")' tests/*.rs | sed 's/^sh.line("//; s/")$//'
    sed -n '/^### kubectl/,/^### Objects out/p' docs/scenario-format.md |
        grep -o '^| `[^`]*`' | sed 's/^| `//; s/`$//; s/\\|/|/g' | grep -v '[][|]'
    cat <<'LINES'
get pods -o wide
get sts web -o yaml
get pvc
get pdb web-pdb -o json
describe pod web-0
describe node node-a
scale statefulset/web --replicas=5
scale deployment api --replicas=0
set image statefulset/web web=nginx:2
patch statefulset web -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}'
rollout status statefulset/web
rollout undo statefulset/web --to-revision=1
delete pod web-1 --grace-period=0 --force
delete pvc data-web-2
cordon node-b
drain node-a --ignore-daemonsets --delete-emptydir-data
taint nodes node-c node.kubernetes.io/out-of-service=nodeshutdown:NoExecute
wait --for=condition=Ready pod/web-2 --timeout=120s
wait --for=delete pod/web-1 --timeout=30s
sleep 30s
apply -f tests/manifests/web.yaml
LINES
} | sort -u >"$c/kubectl.lines"
i=0
while IFS= read -r line; do
    printf '%s\n' "$line" >"$c/kubectl/line-$i"
    i=$((i + 1))
done <"$c/kubectl.lines"
cp "$c/kubectl.lines" "$c/kubectl/all-lines"
rm "$c/kubectl.lines"
echo "seeded: $(for t in scenario manifest kubectl diff branch; do printf '%s %s  ' "$t" "$(ls "$c/$t" | wc -l)"; done)"
