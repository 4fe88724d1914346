package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The command-string splitter, case by case as virsh's parser reads the same text. */
class CommandStringTest {

    private static List<List<String>> split(String s) {
        return CommandString.split(s);
    }

    @Test
    void semicolonsAndNewlinesSeparateCommandsAndBlanksSeparateWords() {
        assertThat(split("snapshot-list vm1; domblklist vm1")).containsExactly(List.of("snapshot-list", "vm1"),
                List.of("domblklist", "vm1"));
        assertThat(split("list\n\tdominfo  vm\r\nlist")).containsExactly(List.of("list"), List.of("dominfo", "vm"),
                List.of("list"));
        assertThat(split("list;dominfo vm")).containsExactly(List.of("list"), List.of("dominfo", "vm"));
    }

    @Test
    void emptyCommandsAndATrailingSemicolonAreLeftOut() {
        assertThat(split("list;;; ;\n\n dominfo vm;")).containsExactly(List.of("list"), List.of("dominfo", "vm"));
        assertThat(split("")).isEmpty();
        assertThat(split(" ; \n ")).isEmpty();
    }

    @Test
    void quotesKeepBlanksAndSemicolonsInOneWord() {
        assertThat(split("snapshot-create-as vm1 \"a b\"; snapshot-list vm1")).containsExactly(
                List.of("snapshot-create-as", "vm1", "a b"), List.of("snapshot-list", "vm1"));
        assertThat(split("img info 'my file;x.qcow2'")).containsExactly(List.of("img", "info", "my file;x.qcow2"));
        // Quoted parts join the word they touch, as in sh; an empty pair is an empty word.
        assertThat(split("x a\"b c\"d '' \"\"")).containsExactly(List.of("x", "ab cd", "", ""));
        assertThat(split("x \"it's\" 'say \"hi\"'")).containsExactly(List.of("x", "it's", "say \"hi\""));
    }

    @Test
    void backslashEscapesOutsideSingleQuotesOnly() {
        assertThat(split("x a\\;b c\\ d \"e\\\"f\" 'g\\h'")).containsExactly(List.of("x", "a;b", "c d", "e\"f",
                "g\\h"));
        // A backslash before a newline joins the lines, between words and inside one.
        assertThat(split("snapshot-list \\\n vm1 --tr\\\nee")).containsExactly(
                List.of("snapshot-list", "vm1", "--tree"));
    }

    @Test
    void aWordStartingWithHashIsACommentToTheEndOfTheLine() {
        assertThat(split("list # all; of this\ndominfo a#b")).containsExactly(List.of("list"),
                List.of("dominfo", "a#b"));
        assertThat(split("# only a comment")).isEmpty();
        assertThat(split("x '#not'")).containsExactly(List.of("x", "#not"));
    }

    @Test
    void aMissingQuoteOrADanglingBackslashIsOneErrorAndNoCommand() {
        assertThatThrownBy(() -> split("list; snapshot-create-as vm \"a b")).isInstanceOf(CliException.class)
                .hasMessage("missing \" (the one at offset 28 of 'list; snapshot-create-as vm \"a b' is not closed)");
        assertThatThrownBy(() -> split("snapshot-delete vm 'old")).isInstanceOf(CliException.class)
                .hasMessageStartingWith("missing ' (the one at offset 19");
        assertThatThrownBy(() -> split("list x\\")).isInstanceOf(CliException.class)
                .hasMessage("dangling \\ at the end of 'list x\\'");
    }

    @Test
    void onlyAnArgumentWithABlankOrSemicolonIsACommandString() {
        assertThat(CommandString.is("list --all")).isTrue();
        assertThat(CommandString.is("list;list")).isTrue();
        assertThat(CommandString.is("a\nb")).isTrue();
        assertThat(CommandString.is("list")).isFalse();
        assertThat(CommandString.is("--version")).isFalse();
        assertThat(CommandString.is("")).isFalse();
    }
}
