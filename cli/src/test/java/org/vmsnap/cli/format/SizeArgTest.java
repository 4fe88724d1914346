package org.vmsnap.cli.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizeArgTest {

    @Test
    void acceptsQemuSizes() {
        assertThat(SizeArg.parse("1")).isEqualTo(1);
        assertThat(SizeArg.parse("1b")).isEqualTo(1);
        assertThat(SizeArg.parse("2K")).isEqualTo(2048);
        assertThat(SizeArg.parse("1m")).isEqualTo(1 << 20);
        assertThat(SizeArg.parse("1.5k")).isEqualTo(1536);
        assertThat(SizeArg.parse("1.5G")).isEqualTo(1610612736L);
        assertThat(SizeArg.parse("1E")).isEqualTo(1L << 60);
        assertThat(SizeArg.parse("0x10")).isEqualTo(16);
        assertThat(SizeArg.parse(" 5")).isEqualTo(5);
        assertThat(SizeArg.parse("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void refusesWhatQemuRefuses() {
        for (String bad : new String[] {"0.5", "1.1", "abc", "1x", "1kb", "1e3", "", "-1"}) {
            assertThatThrownBy(() -> SizeArg.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(SizeArg.INVALID_SIZE);
        }
        assertThatThrownBy(() -> SizeArg.parse("8E")).hasMessageContaining("Must be between 0 and 9223372036854775807.");
    }
}
