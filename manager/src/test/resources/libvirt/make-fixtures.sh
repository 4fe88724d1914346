#!/bin/sh
# Regenerates the libvirt fixtures with libvirt itself (9.0, test driver: no daemon, nothing on
# the host is touched). The fixtures are libvirt's output, committed; the tests compare vmsnap's
# output with them byte for byte. Run from this folder: ./make-fixtures.sh
set -eu
V="virsh -q -c test:///default"
# virsh prints each command's output followed by a blank line; keep only the XML document.
only() { sed -n "/^<$1[ >]/,/^<\/$1>/p"; }
with_domain() { sed -e '/@DOMAIN@/{r input/web01.xml' -e 'd}' "$1"; }

$V 'dumpxml --inactive test' | only domain > domain-test.xml
$V 'define input/web01.xml; dumpxml web01' | only domain > domain-web01.xml
$V 'define input/kernel-vm.xml; dumpxml kernel-vm' | only domain > domain-kernel-vm.xml
$V 'define input/metadata.xml; dumpxml md' | only domain > domain-metadata.xml

# Snapshots made by libvirt: a running domain (memory internal) and a shut-off one with a parent.
$V 'snapshot-create-as test running1 "made while running"; snapshot-dumpxml test running1' \
    | only domainsnapshot > snapshot-running.xml
$V 'define input/web01.xml; snapshot-create-as web01 s1 "first snapshot: <ok> & \"quoted\""; snapshot-create-as web01 s2; snapshot-dumpxml web01 s1' \
    | only domainsnapshot > snapshot-internal.xml
$V 'define input/web01.xml; snapshot-create-as web01 s1; snapshot-create-as web01 s2; snapshot-dumpxml web01 s2' \
    | only domainsnapshot > snapshot-child.xml
$V 'define input/metadata.xml; snapshot-create-as md m1; snapshot-dumpxml md m1' | only domainsnapshot > snapshot-metadata.xml

# External and mixed snapshots, as libvirt writes them back after --redefine.
with_domain input/snap-external.xml > /tmp/vmsnap-ext.$$.xml
with_domain input/snap-mixed.xml > /tmp/vmsnap-mixed.$$.xml
$V "define input/web01.xml; snapshot-create web01 /tmp/vmsnap-ext.$$.xml --redefine; snapshot-dumpxml web01 ext1" \
    | only domainsnapshot > snapshot-external.xml
$V "define input/web01.xml; snapshot-create web01 /tmp/vmsnap-ext.$$.xml --redefine; snapshot-create web01 /tmp/vmsnap-mixed.$$.xml --redefine; snapshot-dumpxml web01 mixed" \
    | only domainsnapshot > snapshot-mixed.xml
rm -f /tmp/vmsnap-ext.$$.xml /tmp/vmsnap-mixed.$$.xml
