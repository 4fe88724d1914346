/**
 * The snapshot manager: domains and their snapshot trees, for shut-off VMs.
 *
 * <p>A caller needs {@link org.vmsnap.manager.DomainService} (define, undefine, list, one
 * domain's {@link org.vmsnap.manager.SnapshotService}) and the snapshot model in
 * {@link org.vmsnap.manager.xml}. Each operation is planned (the planners here, over an
 * {@code ImageGraph} of the domain's image files and a {@code DomainState} of its metadata),
 * then run as a journaled {@link org.vmsnap.manager.plan.Plan}: a crash at any step is
 * finished or undone by the next command on the domain.
 */
package org.vmsnap.manager;
