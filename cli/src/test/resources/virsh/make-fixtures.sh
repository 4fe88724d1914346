#!/bin/sh
# Regenerates the virsh fixtures of SnapshotListingTest and SnapshotInfoTest with libvirt's
# test driver (virsh 9.0, package libvirt-clients): the snapshots in tree/ are redefined on the
# test driver's domain "test" (shut off), "delta" is made current, then each command runs.
# Times print in UTC. Run from this folder: sh make-fixtures.sh
set -eu
export TZ=UTC LC_ALL=C
setup="destroy test"
for f in tree/*.xml; do setup="$setup; snapshot-create test $f --redefine"; done
setup="$setup; snapshot-current test delta"
run() { # $1: output base name, $2: the command
    virsh -c test:///default "$setup; echo @@; $2" >"$1.all" 2>"$1.err" || true
    sed '1,/^@@$/d' "$1.all" >"$1.out"
    rm "$1.all"
    [ -s "$1.err" ] || rm "$1.err"
}
mkdir -p list info
grep -v '^#' list-cases.txt | while IFS='|' read -r id args; do
    run "list/$id" "snapshot-list test $args"
done
for f in tree/*.xml; do
    n=$(sed -n 's:^  <name>\(.*\)</name>$:\1:p' "$f" | head -1)
    run "info/$n" "snapshot-info test $n"
done
run info/current "snapshot-info test --current"
mkdir -p printxml
grep -v '^#' printxml-cases.txt | while IFS='|' read -r id args; do
    virsh -c test:///default "snapshot-create-as test --print-xml $args" >"printxml/$id.out" 2>"printxml/$id.err" || true
    [ -s "printxml/$id.err" ] || rm "printxml/$id.err"
done
# Domain verbs on domain.xml (the test driver's own domain is undefined first).
mkdir -p domain
dom="destroy test; undefine test; define domain.xml; echo @@"
for c in "list --all" "list --all --name" "list" "domblklist vm2" "domblklist vm2 --details"; do
    f="domain/$(echo "$c" | tr ' ' '_' | tr -d -).out"
    virsh -c test:///default "$dom; $c" | sed '1,/^@@$/d' >"$f"
done
# A running domain (the test driver gives it Id 2).
virsh -c test:///default "destroy test; undefine test; define domain.xml; start vm2; echo @@; list" \
    | sed '1,/^@@$/d' >domain/list_running.out
