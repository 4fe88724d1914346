package org.vmsnap.manager;

/** No domain or snapshot of that name (virsh: "Domain not found", "Domain snapshot not found"). */
public class NotFoundException extends ManagerException {
    private static final long serialVersionUID = 1L;

    public NotFoundException(String message) {
        super(message);
    }
}
