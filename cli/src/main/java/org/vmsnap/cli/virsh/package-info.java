/**
 * virsh's domain and snapshot verbs at vmsnap's top level ({@code define}, {@code list},
 * {@code snapshot-create-as}, {@code snapshot-list --tree}, ...), with virsh's flags, messages,
 * tables and tree drawing, over the snapshot manager ({@code org.vmsnap.manager}).
 */
package org.vmsnap.cli.virsh;
