package org.vmsnap.manager;

/** What snapshot-delete removes: the snapshot, it and its descendants, or only its descendants. */
public enum DeleteScope {
    SNAPSHOT, CHILDREN, CHILDREN_ONLY
}
