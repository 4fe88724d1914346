package org.vmsnap.manager.xml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.vmsnap.manager.InvalidInputException;

/**
 * Memory units. The expected KiB values are what libvirt 9.0's dumpxml printed for
 * {@code <memory unit='U'>3</memory>} (LibvirtOracleIT checks every row against virsh itself).
 */
class ScaledValueTest {
    @ParameterizedTest
    @CsvSource({"k,3", "KB,3", "kb,3", "mb,2930", "M,3072", "MiB,3072", "G,3145728", "GB,2929688",
        "T,3221225472", "e,3377699720527872", "E,3377699720527872", "b,1", "bytes,1", "byte,1", "B,1",
        "Bytes,1", "KIB,3", "kIb,3", "KiB,3", "'',3"})
    void unitsAsLibvirt(String unit, long kib) throws Exception {
        assertThat(memory(unit, "3").memoryKiB()).isEqualTo(kib);
    }

    @Test
    void unknownUnitIsRefused() {
        assertThatThrownBy(() -> memory("x", "3")).isInstanceOf(InvalidInputException.class)
                .hasMessage("domain m: <memory>: unknown unit 'x'");
    }

    @Test
    void nonNumericOrSignedValueIsRefused() {
        for (String v : new String[] {" 3000 ", "-1", "1.5", "0x10", ""}) {
            assertThatThrownBy(() -> memory("KiB", v)).isInstanceOf(InvalidInputException.class)
                    .hasMessageContaining("invalid value");
        }
    }

    @Test
    void overflowIsRefusedNotWrapped() {
        assertThatThrownBy(() -> memory("EiB", "8")).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("too large");
    }

    @Test
    void currentMemoryIsCappedAtTheMaximum() throws Exception {
        Domain d = Domain.parse("<domain><name>m</name><memory unit='MiB'>1</memory>"
                + "<currentMemory unit='GiB'>1</currentMemory></domain>");
        assertThat(d.currentMemoryKiB()).isEqualTo(1024);
    }

    @Test
    void numaCellsGiveTheMemoryWhenMemoryIsAbsent() throws Exception {
        Domain d = Domain.parse("<domain><name>m</name><cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/>"
                + "<cell id='1' cpus='1' memory='524288'/></numa></cpu></domain>");
        assertThat(d.memoryKiB()).isEqualTo(1048576);
    }

    private static Domain memory(String unit, String value) throws InvalidInputException {
        return Domain.parse("<domain type='test'><name>m</name><memory unit='" + unit + "'>" + value
                + "</memory></domain>");
    }
}
