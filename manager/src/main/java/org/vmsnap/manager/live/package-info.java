/**
 * Running domains: {@link org.vmsnap.manager.live.DomainTranslator} turns a domain definition and
 * its disks' image chains into the {@link org.vmsnap.qmp.VmSpec} QEMU is started with, or refuses
 * it with {@link org.vmsnap.manager.live.UnsupportedDomainException} (one line per element vmsnap
 * does not start).
 */
package org.vmsnap.manager.live;
