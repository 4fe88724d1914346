package org.vmsnap.cli.format;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class QemuJsonTest {

    @Test
    void membersComeOutInQdictBucketOrder() {
        // The order qemu-img 7.2 prints for a raw image's info, whatever the insertion order.
        QemuJson o = new QemuJson().put("filename", "f").put("format", "raw").put("dirty-flag", false)
                .put("actual-size", 4096L).put("virtual-size", 512L);
        assertThat(o.membersInOrder().stream().map(java.util.Map.Entry::getKey))
                .containsExactly("virtual-size", "filename", "format", "actual-size", "dirty-flag");
    }

    @Test
    void keysInOneBucketComeNewestFirst() {
        assertThat(QemuJson.bucket("backing-filename-format")).isEqualTo(QemuJson.bucket("children"));
        QemuJson o = new QemuJson().put("children", 1L).put("backing-filename-format", "qcow2");
        assertThat(o.membersInOrder().stream().map(java.util.Map.Entry::getKey))
                .containsExactly("backing-filename-format", "children");
    }

    @Test
    void prettyPrintsNestedObjectsAndListsWithFourSpaces() {
        QemuJson o = new QemuJson().put("type", "qcow2")
                .put("data", new QemuJson().put("compat", "1.1"))
                .put("snapshots", List.of(new QemuJson().put("id", "1")));
        assertThat(o.toPrettyString()).isEqualTo("""
                {
                    "snapshots": [
                        {
                            "id": "1"
                        }
                    ],
                    "type": "qcow2",
                    "data": {
                        "compat": "1.1"
                    }
                }""");
    }

    @Test
    void stringsAreEscapedAsQemuDoes() {
        StringBuilder sb = new StringBuilder();
        QemuJson.quote(sb, "a\"é\\x\tb/😀\u0001");
        assertThat(sb).hasToString("\"a\\\"\\u00E9\\\\x\\tb/\\uD83D\\uDE00\\u0001\"");
    }
}
