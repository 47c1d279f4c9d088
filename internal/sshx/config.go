package sshx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultPort is the SSH port used when neither the address nor the config
// names one.
const DefaultPort = 22

// maxIncludeDepth bounds Include recursion, as OpenSSH's READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

// Config is a parsed OpenSSH client configuration file (ssh_config(5)),
// reduced to what fpgactl uses. The zero value and nil are an empty config.
//
// Supported: Host blocks (several patterns per line, * and ?, !negation),
// "Match all", Include, and the keywords HostName, Port, User, IdentityFile,
// IdentitiesOnly, UserKnownHostsFile, HostKeyAlias, ConnectTimeout,
// ServerAliveInterval, ServerAliveCountMax, ProxyJump and ProxyCommand (only
// recorded, so that Dial can refuse them instead of silently connecting
// directly). Other Match blocks are skipped as a whole, since fpgactl cannot
// evaluate them; other keywords are ignored. As in OpenSSH, the first value
// obtained for a keyword wins, except IdentityFile, which accumulates.
type Config struct {
	blocks []block
}

// block is a run of settings under the same conditions: a Host or Match
// line, and the Host lines of the files that included it.
type block struct {
	conds    []hostCond // all must match; none: always
	settings []setting
}

// hostCond is one Host line, or a Match line fpgactl cannot evaluate (never).
type hostCond struct {
	patterns []hostPattern
	never    bool
}

type hostPattern struct {
	glob   string // lower case
	negate bool
}

type setting struct {
	key  string // lower-case keyword
	args []string
	pos  string // "file:line", for messages
}

// ParseConfig parses an OpenSSH client config from r; name is the file name
// used in error messages and the directory relative Include paths are
// resolved against (OpenSSH resolves them against ~/.ssh, which is the same
// for ~/.ssh/config). Errors name the file and line.
func ParseConfig(r io.Reader, name string) (*Config, error) {
	p := configParser{cfg: &Config{}, readFile: os.ReadFile, glob: filepath.Glob}
	if err := p.parse(r, name, nil, 0); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// LoadConfig reads and parses the config file at path ("~/" is expanded).
// A missing file is an error (errors.Is(err, fs.ErrNotExist)); use
// LoadUserConfig for the optional ~/.ssh/config.
func LoadConfig(path string) (*Config, error) {
	path, err := expandTilde(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading ssh config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// LoadUserConfig reads ~/.ssh/config, returning an empty config when there is
// none.
func LoadUserConfig() (*Config, error) {
	cfg, err := LoadConfig("~/.ssh/config")
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	return cfg, err
}

type configParser struct {
	cfg      *Config
	readFile func(string) ([]byte, error)
	glob     func(string) ([]string, error)
}

func (p *configParser) parse(r io.Reader, name string, base []hostCond, depth int) error {
	if name == "" {
		name = "ssh config"
	}
	cur := p.newBlock(base, nil)
	sc := bufio.NewScanner(r)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		pos := name + ":" + strconv.Itoa(lineNo)
		keyword, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("%s: %v", pos, err)
		}
		if keyword == "" {
			continue
		}
		key := strings.ToLower(keyword)
		switch key {
		case "host":
			if len(args) == 0 {
				return fmt.Errorf("%s: Host needs at least one pattern", pos)
			}
			cond := hostCond{}
			for _, a := range args {
				hp := hostPattern{glob: strings.ToLower(a)}
				if strings.HasPrefix(hp.glob, "!") {
					hp.negate, hp.glob = true, hp.glob[1:]
				}
				cond.patterns = append(cond.patterns, hp)
			}
			cur = p.newBlock(base, &cond)
		case "match":
			if len(args) == 0 {
				return fmt.Errorf("%s: Match needs a criterion (fpgactl understands only \"Match all\")", pos)
			}
			if len(args) == 1 && strings.EqualFold(args[0], "all") {
				cur = p.newBlock(base, nil)
			} else {
				// Criteria such as exec or localnetwork cannot be evaluated
				// here: skip the whole block rather than guess.
				cur = p.newBlock(base, &hostCond{never: true})
			}
		case "include":
			if len(args) == 0 {
				return fmt.Errorf("%s: Include needs a file name", pos)
			}
			if depth >= maxIncludeDepth {
				return fmt.Errorf("%s: Include nested more than %d deep (a loop?)", pos, maxIncludeDepth)
			}
			conds := p.cfg.blocks[cur].conds
			for _, a := range args {
				if err := p.include(a, name, conds, depth, pos); err != nil {
					return err
				}
			}
			// Lines after the Include still belong to the enclosing block.
			cur = p.newBlock(conds, nil)
		default:
			if err := checkSetting(key, keyword, args); err != nil {
				return fmt.Errorf("%s: %v", pos, err)
			}
			if _, known := keywords[key]; known {
				b := &p.cfg.blocks[cur]
				b.settings = append(b.settings, setting{key: key, args: args, pos: pos})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: after line %d: %v", name, lineNo, err)
	}
	return nil
}

// newBlock starts a block under base and, if not nil, one more condition.
func (p *configParser) newBlock(base []hostCond, cond *hostCond) int {
	conds := append([]hostCond(nil), base...)
	if cond != nil {
		conds = append(conds, *cond)
	}
	p.cfg.blocks = append(p.cfg.blocks, block{conds: conds})
	return len(p.cfg.blocks) - 1
}

func (p *configParser) include(arg, from string, conds []hostCond, depth int, pos string) error {
	pattern, err := expandTilde(arg)
	if err != nil {
		return fmt.Errorf("%s: Include %s: %v", pos, arg, err)
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	files, err := p.glob(pattern)
	if err != nil {
		return fmt.Errorf("%s: Include %s: %v", pos, arg, err)
	}
	// As OpenSSH: a pattern that matches nothing is not an error.
	for _, f := range files {
		data, err := p.readFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("%s: Include %s: %v", pos, arg, err)
		}
		if err := p.parse(strings.NewReader(string(data)), f, conds, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// keywords are the settings Resolve uses, with the number of arguments
// they take (-1: one or more).
var keywords = map[string]int{
	"hostname":            1,
	"port":                1,
	"user":                1,
	"identityfile":        1,
	"identitiesonly":      1,
	"userknownhostsfile":  -1,
	"hostkeyalias":        1,
	"connecttimeout":      1,
	"serveraliveinterval": 1,
	"serveralivecountmax": 1,
	"proxyjump":           1,
	"proxycommand":        -1,
}

// checkSetting validates a setting at parse time, so that errors name the
// line and Resolve cannot fail.
func checkSetting(key, keyword string, args []string) error {
	n, known := keywords[key]
	if !known {
		return nil
	}
	switch {
	case len(args) == 0:
		return fmt.Errorf("%s needs a value", keyword)
	case n == 1 && len(args) > 1:
		return fmt.Errorf("%s takes one value, got %d (%q); quote a value that contains spaces", keyword, len(args), strings.Join(args, " "))
	}
	v := args[0]
	switch key {
	case "port":
		if _, err := parsePort(v); err != nil {
			return fmt.Errorf("%s %q: %v", keyword, v, err)
		}
	case "identitiesonly":
		if _, err := parseYesNo(v); err != nil {
			return fmt.Errorf("%s %q: %v", keyword, v, err)
		}
	case "connecttimeout", "serveraliveinterval":
		if _, err := parseConfigDuration(v); err != nil {
			return fmt.Errorf("%s %q: %v", keyword, v, err)
		}
	case "serveralivecountmax":
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return fmt.Errorf("%s %q: want a whole number of at least 1", keyword, v)
		}
	case "hostname":
		if err := checkTokens(v, "%h"); err != nil {
			return fmt.Errorf("%s %q: %v", keyword, v, err)
		}
	case "identityfile", "userknownhostsfile":
		for _, a := range args {
			if err := checkTokens(a, fileTokens); err != nil {
				return fmt.Errorf("%s %q: %v", keyword, a, err)
			}
		}
	}
	return nil
}

// splitConfigLine splits a config line into its keyword and arguments as
// OpenSSH does: "Keyword value", "Keyword=value" or "Keyword = value";
// arguments separated by white space, "double" or 'single' quoted, with
// backslash escapes; an unquoted word starting with # starts a comment.
func splitConfigLine(line string) (keyword string, args []string, err error) {
	s := strings.TrimLeftFunc(line, unicode.IsSpace)
	if s == "" || s[0] == '#' {
		return "", nil, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return r == '=' || unicode.IsSpace(r) })
	if i < 0 {
		return s, nil, nil
	}
	keyword, s = s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	if strings.HasPrefix(s, "=") {
		s = s[1:]
	}
	if keyword == "" {
		return "", nil, errors.New("line starts with '=': missing keyword")
	}
	args, err = splitArgs(s)
	return keyword, args, err
}

func splitArgs(s string) ([]string, error) {
	var args []string
	rs := []rune(s)
	i := 0
	for {
		for i < len(rs) && unicode.IsSpace(rs[i]) {
			i++
		}
		if i == len(rs) || rs[i] == '#' {
			return args, nil
		}
		var (
			b     strings.Builder
			quote rune
		)
		for ; i < len(rs) && (quote != 0 || !unicode.IsSpace(rs[i])); i++ {
			c := rs[i]
			switch {
			case c == '\\' && i+1 < len(rs) && isEscapable(rs[i+1], quote):
				i++
				b.WriteRune(rs[i])
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			default:
				b.WriteRune(c)
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated %c quote", quote)
		}
		args = append(args, b.String())
	}
}

// isEscapable reports whether a backslash before r escapes it: quotes and
// backslashes anywhere, white space outside quotes. Other backslashes are
// kept, as OpenSSH does.
func isEscapable(r, quote rune) bool {
	return r == '\\' || r == '"' || r == '\'' || (quote == 0 && unicode.IsSpace(r))
}

// Host is the effective configuration for one host alias.
type Host struct {
	Alias    string // the name given, matched against Host patterns
	HostName string // the name or address to connect to; Alias when the config names none
	Port     int    // DefaultPort when the config names none
	User     string // the remote user; the local user when the config names none

	// IdentityFiles are the private keys the config names for this host,
	// with ~ and %-tokens expanded. When empty, Dial tries the default
	// files (~/.ssh/id_ed25519, id_ecdsa, id_rsa) that exist.
	IdentityFiles  []string
	IdentitiesOnly bool // use only IdentityFiles' keys, not every key in the agent

	// KnownHostsFiles are where host keys are looked up: UserKnownHostsFile,
	// by default ~/.ssh/known_hosts and ~/.ssh/known_hosts2. Empty after
	// "UserKnownHostsFile none".
	KnownHostsFiles []string
	HostKeyAlias    string // looked up in known_hosts instead of HostName

	ConnectTimeout      time.Duration // 0: not set
	ServerAliveInterval time.Duration // 0: no keepalives
	ServerAliveCountMax int           // unanswered keepalives before giving up; default 3

	// Proxy is the ProxyJump or ProxyCommand setting with its position, which
	// fpgactl does not support; Dial refuses such hosts.
	Proxy string
}

// Resolve returns the effective settings for alias: the first value of each
// keyword among the blocks that match, then the defaults.
func (c *Config) Resolve(alias string) Host {
	return c.resolve(alias, "", 0)
}

// resolve is Resolve with the user and port the caller asked for explicitly
// (when not empty or 0), which take precedence and are what %r and %p stand
// for.
func (c *Config) resolve(alias, user string, port int) Host {
	h := Host{Alias: alias, ServerAliveCountMax: 3}
	var (
		seen          = map[string]bool{}
		identityFiles []string
		knownHosts    []string
		knownHostsSet bool
	)
	lower := strings.ToLower(alias)
	if c != nil {
		for _, b := range c.blocks {
			if !b.matches(lower) {
				continue
			}
			for _, s := range b.settings {
				if s.key == "identityfile" {
					identityFiles = append(identityFiles, s.args[0])
					continue
				}
				if seen[s.key] {
					continue
				}
				seen[s.key] = true
				v := s.args[0]
				switch s.key {
				case "hostname":
					h.HostName = expandTokens(v, map[byte]string{'h': alias})
				case "port":
					h.Port, _ = parsePort(v)
				case "user":
					h.User = v
				case "identitiesonly":
					h.IdentitiesOnly, _ = parseYesNo(v)
				case "userknownhostsfile":
					knownHostsSet = true
					if !(len(s.args) == 1 && strings.EqualFold(v, "none")) {
						knownHosts = s.args
					}
				case "hostkeyalias":
					h.HostKeyAlias = v
				case "connecttimeout":
					h.ConnectTimeout, _ = parseConfigDuration(v)
				case "serveraliveinterval":
					h.ServerAliveInterval, _ = parseConfigDuration(v)
				case "serveralivecountmax":
					h.ServerAliveCountMax, _ = strconv.Atoi(v)
				case "proxyjump", "proxycommand":
					if !(len(s.args) == 1 && strings.EqualFold(v, "none")) && h.Proxy == "" {
						h.Proxy = fmt.Sprintf("%s %s (%s)", configName(s.key), strings.Join(s.args, " "), s.pos)
					}
				}
			}
		}
	}

	if h.HostName == "" {
		h.HostName = alias
	}
	if port != 0 {
		h.Port = port
	}
	if h.Port == 0 {
		h.Port = DefaultPort
	}
	if user != "" {
		h.User = user
	}
	localUser := currentUser()
	if h.User == "" {
		h.User = localUser
	}
	home, _ := os.UserHomeDir()
	tokens := map[byte]string{
		'd': home,
		'h': h.HostName,
		'i': strconv.Itoa(os.Getuid()),
		'l': localHostname(),
		'n': alias,
		'p': strconv.Itoa(h.Port),
		'r': h.User,
		'u': localUser,
	}
	for _, f := range identityFiles {
		f = expandPath(expandTokens(f, tokens))
		if !slices.Contains(h.IdentityFiles, f) {
			h.IdentityFiles = append(h.IdentityFiles, f)
		}
	}
	if !knownHostsSet {
		knownHosts = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	for _, f := range knownHosts {
		h.KnownHostsFiles = append(h.KnownHostsFiles, expandPath(expandTokens(f, tokens)))
	}
	return h
}

func (b *block) matches(lowerAlias string) bool {
	for _, c := range b.conds {
		if !c.matches(lowerAlias) {
			return false
		}
	}
	return true
}

// matches applies ssh_config(5)'s rule: some pattern matches and no negated
// pattern does.
func (c hostCond) matches(lowerAlias string) bool {
	if c.never {
		return false
	}
	matched := false
	for _, p := range c.patterns {
		if wildcardMatch(p.glob, lowerAlias) {
			if p.negate {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches s against an ssh_config pattern, where * stands
// for any run of characters and ? for one.
func wildcardMatch(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	// star and retry remember the last * and where the text resumed after
	// it, to backtrack there on a mismatch (linear for practical patterns).
	star, retry := -1, 0
	i, j := 0, 0
	for j < len(str) {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == str[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, retry = i, j
			i++
		case star >= 0:
			retry++
			i, j = star+1, retry
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// fileTokens are the %-tokens IdentityFile and UserKnownHostsFile accept.
const fileTokens = "%dhilnpru"

// checkTokens reports a % not followed by % or one of the allowed letters.
func checkTokens(s, allowed string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 == len(s) {
			return errors.New("ends in a lone %; write %% for a percent sign")
		}
		i++
		if s[i] != '%' && !strings.ContainsRune(allowed[1:], rune(s[i])) {
			var list []string
			for _, t := range allowed[1:] {
				list = append(list, "%"+string(t))
			}
			return fmt.Errorf("token %%%c is not supported here (supported: %%%%, %s)", s[i], strings.Join(list, ", "))
		}
	}
	return nil
}

// expandTokens replaces %x with values[x] and %% with %; checkTokens has
// vetted s.
func expandTokens(s string, values map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
		} else {
			b.WriteString(values[s[i]])
		}
	}
	return b.String()
}

// expandTilde expands a leading "~" or "~/" to the home directory.
func expandTilde(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		if strings.HasPrefix(p, "~") {
			return "", fmt.Errorf("%s: ~user paths are not supported; write the full path", p)
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expanding %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// expandPath is expandTilde for values already checked, keeping p when
// there is no home directory (the error will name the unexpanded path).
func expandPath(p string) string {
	if e, err := expandTilde(p); err == nil {
		return e
	}
	return p
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("want a port number from 1 to 65535")
	}
	return n, nil
}

func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, errors.New("want yes or no")
}

// parseConfigDuration parses OpenSSH time formats: seconds ("30"), or
// numbers with s, m, h, d or w suffixes, concatenated ("1m30s").
func parseConfigDuration(s string) (time.Duration, error) {
	bad := errors.New(`want seconds ("30") or a time such as "1m30s"`)
	if s == "" {
		return 0, bad
	}
	units := map[byte]time.Duration{
		's': time.Second, 'm': time.Minute, 'h': time.Hour,
		'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, bad
		}
		n, _ := strconv.Atoi(s[:i])
		unit := time.Second
		s = s[i:]
		if s != "" {
			u, ok := units[byte(unicode.ToLower(rune(s[0])))]
			if !ok {
				return 0, bad
			}
			unit, s = u, s[1:]
		}
		total += time.Duration(n) * unit
		if total > 365*24*time.Hour {
			return 0, errors.New("longer than a year")
		}
	}
	return total, nil
}

// configName spells a lower-case keyword as ssh_config(5) does, for messages.
func configName(key string) string {
	switch key {
	case "proxyjump":
		return "ProxyJump"
	case "proxycommand":
		return "ProxyCommand"
	}
	return key
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

func localHostname() string {
	h, _ := os.Hostname()
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}
