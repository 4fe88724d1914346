/**
 * vmsnap serve: the HTTP API and page over the manager. Only {@code VmsnapServer}'s package is
 * exported. Jackson binds request bodies to the package's (package-private) request records,
 * so the package is opened to Jackson's databind, and to nothing else. VmsnapServer is made
 * with a DomainService, hence {@code requires transitive org.vmsnap.manager}. TCP is served by the
 * JDK's jdk.httpserver; a UNIX socket ({@code serve --socket}) by Jetty's unixdomain connector
 * (which requires Jetty's server, http, io and util modules transitively).
 */
module org.vmsnap.server {
    requires transitive org.vmsnap.manager;
    requires org.vmsnap.qcow2;
    requires com.fasterxml.jackson.databind;
    requires jdk.httpserver;
    requires org.eclipse.jetty.unixdomain.server;

    exports org.vmsnap.server;

    opens org.vmsnap.server to com.fasterxml.jackson.databind;
}
