package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// scanner looks for known tokens' plaintexts in everything the bot and
// the tests wrote. It checks every 43-character window of every run of
// token characters, so a token glued to other text (a URL, a longer
// identifier) is found too.
type scanner struct {
	mu     sync.Mutex
	tokens map[string]token.Fingerprint
	// files are scanned at the end, when they are complete; plaintext
	// files are deleted once read.
	files      []source
	plaintexts []string
	// found are the places a token was found, by fingerprint.
	found   map[token.Fingerprint][]string
	bytes   int64
	sources int
}

type source struct{ name, path string }

// tokenLen is the length of a Signon token.
const tokenLen = 43

func newScanner() *scanner {
	return &scanner{tokens: map[string]token.Fingerprint{}, found: map[token.Fingerprint][]string{}}
}

// know adds tokens to look for.
func (s *scanner) know(secrets ...token.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range secrets {
		if !t.Empty() {
			s.tokens[t.Reveal()] = t.Fingerprint()
		}
	}
}

// knowFile reads tokens from a recorder's file ("fingerprint plaintext"
// lines) and deletes it.
func (s *scanner) knowFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fp, plain, ok := strings.Cut(sc.Text(), " ")
		if !ok || token.FingerprintOf(plain) != token.Fingerprint(fp) {
			return fmt.Errorf("token record %s: malformed line", path)
		}
		s.know(token.NewSecret(plain))
	}
	return sc.Err()
}

// addFile names a file to scan at the end.
func (s *scanner) addFile(name, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = append(s.files, source{name, path})
}

// plaintextFile names a file that holds plaintexts (a token record): it
// is deleted when the harness closes, whatever happened.
func (s *scanner) plaintextFile(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plaintexts = append(s.plaintexts, path)
}

func (s *scanner) forgetFiles() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.plaintexts {
		_ = os.Remove(p)
	}
}

// scanFiles scans the files named so far.
func (s *scanner) scanFiles() (int, error) {
	s.mu.Lock()
	files := slices.Clone(s.files)
	s.files = nil
	s.mu.Unlock()
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return n, fmt.Errorf("scan %s: %w", f.name, err)
		}
		n += s.scan(f.name, data)
	}
	return n, nil
}

// scan counts the known tokens found in data, each place once, and
// remembers where.
func (s *scanner) scan(where string, data []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(len(data))
	s.sources++
	seen := map[token.Fingerprint]bool{}
	for i := 0; i < len(data); {
		if !tokenChar(data[i]) {
			i++
			continue
		}
		j := i
		for j < len(data) && tokenChar(data[j]) {
			j++
		}
		for k := i; k+tokenLen <= j; k++ {
			if fp, ok := s.tokens[string(data[k:k+tokenLen])]; ok && !seen[fp] {
				seen[fp] = true
			}
		}
		i = j
	}
	for fp := range seen {
		s.found[fp] = append(s.found[fp], where)
	}
	return len(seen)
}

// where lists the leaks found, a line per token.
func (s *scanner) where() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for fp, places := range s.found {
		out = append(out, fmt.Sprintf("token %s found in %s", fp, strings.Join(places, ", ")))
	}
	slices.Sort(out)
	return out
}

func (s *scanner) stats() (known int, bytes int64, sources int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens), s.bytes, s.sources
}

func tokenChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
