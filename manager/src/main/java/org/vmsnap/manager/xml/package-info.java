/**
 * libvirt's domain and domainsnapshot XML: {@link org.vmsnap.manager.xml.Domain} (the whole
 * document kept, the used subset read), {@link org.vmsnap.manager.xml.SnapshotDef} with
 * {@link org.vmsnap.manager.xml.SnapshotXml}. Parsing refuses DTDs, entities and XInclude
 * ({@link org.vmsnap.manager.xml.SafeXml}); writing follows libvirt's layout byte for byte.
 */
package org.vmsnap.manager.xml;
