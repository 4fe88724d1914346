/**
 * The state folder of a domain ({@link org.vmsnap.manager.store.DomainStore}): files replaced
 * atomically ({@link org.vmsnap.manager.store.AtomicFiles}) under one lock per domain
 * ({@link org.vmsnap.manager.store.DomainLock}).
 */
package org.vmsnap.manager.store;
