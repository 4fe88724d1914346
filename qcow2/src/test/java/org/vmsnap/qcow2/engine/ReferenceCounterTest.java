package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ReferenceCounterTest {

    @Test
    void countsStartAtZeroAndGrowFromOneByteToIntToMap() {
        ReferenceCounter c = new ReferenceCounter(3 * ReferenceCounter.PAGE_CLUSTERS, Long.MAX_VALUE);
        assertThat(c.get(5)).isZero();
        assertThat(c.add(5, 200)).isZero();
        assertThat(c.get(5)).isEqualTo(200);
        c.add(5, 100);                       // past a byte: the page widens
        assertThat(c.get(5)).isEqualTo(300);
        c.set(6, Integer.MAX_VALUE + 10L);   // past an int: the count moves to the map
        assertThat(c.get(6)).isEqualTo(Integer.MAX_VALUE + 10L);
        c.set(6, 7);
        assertThat(c.get(6)).isEqualTo(7);
        assertThat(c.get(5)).isEqualTo(300);
        c.clear();
        assertThat(c.get(5)).isZero();
        assertThat(c.get(6)).isZero();
    }

    @Test
    void incrementsPastTheLargestRefcountAreRefusedAndReported() {
        ReferenceCounter oneBit = new ReferenceCounter(10, 1);
        assertThat(oneBit.add(3, 1)).isZero();
        assertThat(oneBit.add(3, 4)).isEqualTo(4);
        assertThat(oneBit.get(3)).isEqualTo(1);
        ReferenceCounter sixteen = new ReferenceCounter(10, 0xffff);
        assertThat(sixteen.add(1, 0x10005)).isEqualTo(6);
        assertThat(sixteen.get(1)).isEqualTo(0xffff);
    }

    @Test
    void addingPastTheEndGrowsAndReadingPastTheEndIsZero() {
        ReferenceCounter c = new ReferenceCounter(2, 0xffff);
        assertThat(c.get(100)).isZero();
        c.add(ReferenceCounter.PAGE_CLUSTERS + 1L, 1);
        assertThat(c.size()).isEqualTo(ReferenceCounter.PAGE_CLUSTERS + 2L);
        assertThat(c.get(ReferenceCounter.PAGE_CLUSTERS + 1L)).isEqualTo(1);
        c.resize(1);
        assertThat(c.size()).isEqualTo(ReferenceCounter.PAGE_CLUSTERS + 2L);
        assertThatThrownBy(() -> c.resize(ReferenceCounter.MAX_CLUSTERS + 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
