// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// Entity types of the code detector.
const (
	// CodeBlock is a Markdown code fence (``` or ~~~ at a line start).
	CodeBlock = "CODE_BLOCK"
	// ShellCommand is a line (or inline `code`) that starts with a shell
	// prompt or a command that runs, fetches or destroys things.
	ShellCommand = "SHELL_COMMAND"
)

// maxCodeLine bounds a reported command line, and so the detector's window.
const maxCodeLine = 512

// codeDetector finds code the client might execute: fenced code blocks
// and shell command lines. It reports the fence and the command line, not
// the whole block (a block is unbounded, which no stream could hold back),
// so it supports block and detect only.
type codeDetector struct{}

var _ entity.Detector = codeDetector{}

// riskyCommands start a shell command worth stopping. Each ends with a
// space or a symbol so that prose ("sudoku", "ddos") does not match.
var riskyCommands = []string{
	"sudo ", "su -", "rm -rf ", "rm -fr ", "rm -r ", "chmod +x ", "chmod 777 ", "chown ",
	"curl ", "wget ", "bash -c", "sh -c", "zsh -c", "bash <(", "sh <(", "eval ", "exec ",
	"python -c", "python3 -c", "perl -e", "ruby -e", "node -e", "nc -e", "ncat ", "netcat ",
	"mkfs", "dd if=", ":(){", "powershell ", "powershell.exe", "pwsh ", "iex ", "iex(",
	"invoke-expression", "invoke-webrequest", "cmd /c", "cmd.exe", "certutil ", "reg add ",
	"schtasks ", "crontab ", "systemctl ", "kill -9", "pkill ", "shutdown ", "format c:",
	"base64 -d", "base64 --decode", "apt-get install", "apt install", "pip install", "npm install",
	"docker run", "kubectl exec", "ssh ", "scp ",
}

// prompts are shell prompts that mark the rest of the line as a command.
var prompts = []string{"$ ", "% ", "> ", "PS> ", "C:\\> ", "# "}

func (codeDetector) Find(text string, dst []entity.Finding) []entity.Finding {
	n := len(dst)
	for ls := 0; ls < len(text); {
		le := strings.IndexByte(text[ls:], '\n')
		if le < 0 {
			le = len(text)
		} else {
			le += ls
		}
		dst = findCodeInLine(text, ls, le, dst)
		ls = le + 1
	}
	merged := entity.Merge(dst[n:])
	return dst[:n+len(merged)]
}

// findCodeInLine inspects text[ls:le], one line without its newline.
func findCodeInLine(text string, ls, le int, dst []entity.Finding) []entity.Finding {
	i := ls
	for i < le && i-ls < 4 && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	line := text[i:le]
	if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") {
		return append(dst, entity.Finding{Start: i, End: min(le, i+64), Type: CodeBlock})
	}
	// A command at the line start, after a shell prompt ("# " only when a
	// command follows: it is also a Markdown heading).
	cmd := i
	for _, p := range prompts {
		if strings.HasPrefix(line, p) {
			rest := strings.TrimLeft(line[len(p):], " ")
			if p == "# " && !risky(rest) {
				break
			}
			if p != "# " && p != "> " || risky(rest) {
				return append(dst, entity.Finding{Start: i, End: min(le, i+maxCodeLine), Type: ShellCommand})
			}
		}
	}
	if risky(line) {
		return append(dst, entity.Finding{Start: cmd, End: min(le, cmd+maxCodeLine), Type: ShellCommand})
	}
	// Inline code: `rm -rf /` anywhere in the line.
	for j := i; j < le; j++ {
		if text[j] != '`' {
			continue
		}
		k := strings.IndexByte(text[j+1:le], '`')
		if k < 0 {
			break
		}
		if risky(text[j+1 : j+1+k]) {
			dst = append(dst, entity.Finding{Start: j, End: j + k + 2, Type: ShellCommand})
		}
		j += k + 1
	}
	return dst
}

// risky reports whether s starts with a risky command, ignoring case.
func risky(s string) bool {
	for _, c := range riskyCommands {
		if len(s) >= len(c) && strings.EqualFold(s[:len(c)], c) {
			return true
		}
	}
	return false
}

func (codeDetector) Types() []string { return []string{CodeBlock, ShellCommand} }

// MaxLen is a line's window: the reported line plus the look-behind to its
// start (indentation, a prompt) and the newline after it.
func (codeDetector) MaxLen() int { return maxCodeLine + 16 }
