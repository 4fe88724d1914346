// The descriptor picocli 4.7.7's released jar carries (META-INF/versions/9/module-info.class);
// the sources jar has no module-info.java, so the build copies this one next to the sources.
module info.picocli {
    requires static java.sql;

    exports picocli;
}
