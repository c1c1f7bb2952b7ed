package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"posagent/gateway"
)

// MaxFaultLatency bounds Faults.Latency, so a typo cannot hang every call.
const MaxFaultLatency = 5 * time.Minute

// ErrBadFaults is returned (wrapped) for faults that fail validation.
var ErrBadFaults = errors.New("sandbox: bad faults")

// Faults are failures the sandbox injects into gateway calls. They apply to
// calls of Methods that passed the signature check; each probability is
// rolled independently per call with a seeded RNG. The zero value injects
// nothing.
//
// JSON (POST /sandbox/faults replaces the whole set):
//
//	{"latency":"300ms","drop_after_commit":0.2,"fail_20000":0.1,"bad_sign":0,
//	 "unsigned_error":0,"escaped_slash":0,"methods":["alipay.trade.pay"],"seed":42}
type Faults struct {
	// Latency is waited before each matching call is handled. Default 0;
	// at most MaxFaultLatency.
	Latency time.Duration
	// DropAfterCommit is the probability (0–1) that a matching call is
	// handled and its effect committed, then the connection is closed
	// without a reply, as when a reply is lost on the way. Default 0.
	DropAfterCommit float64
	// Fail20000 is the probability (0–1) that a matching call is answered
	// 20000 isp.unknow-error without taking any effect. Default 0.
	Fail20000 float64
	// BadSign is the probability (0–1) that a reply's signature is
	// corrupted (still base64 of the right length, but it does not verify).
	// Default 0.
	BadSign float64
	// UnsignedError is the probability (0–1) that a reply carrying an error
	// (any code but 10000 and 10003) is sent without "sign", as some
	// gateways do.
	// Default 0.
	UnsignedError float64
	// EscapedSlash is the probability (0–1) that a reply's '/' are sent
	// escaped as `\/` while the signature covers them unescaped (as the
	// Java SDK's second verification try expects). Default 0.
	EscapedSlash float64
	// CancelUnseenNotExist makes a trade.cancel of an out_trade_no the
	// sandbox has not seen answer 40004 ACQ.TRADE_NOT_EXIST and leave the
	// number open (a later trade.pay with it succeeds), as a gateway that
	// does not close unseen numbers does. Default false: such a cancel
	// closes the number (action=close). Not limited by Methods.
	CancelUnseenNotExist bool
	// Methods limits the faults to these gateway methods. Default (empty):
	// all of gateway.Methods.
	Methods []string
	// Seed seeds the fault RNG, so a run of calls fails the same way again.
	// Default 0: a random seed.
	Seed int64
}

type faultsJSON struct {
	Latency         string  `json:"latency"`
	DropAfterCommit float64 `json:"drop_after_commit"`
	Fail20000       float64 `json:"fail_20000"`
	BadSign         float64 `json:"bad_sign"`
	UnsignedError   float64 `json:"unsigned_error,omitempty"`
	EscapedSlash    float64 `json:"escaped_slash,omitempty"`
	// CancelUnseenNotExist: see Faults.
	CancelUnseenNotExist bool     `json:"cancel_unseen_not_exist,omitempty"`
	Methods              []string `json:"methods"`
	Seed                 int64    `json:"seed,omitempty"`
}

// MarshalJSON writes the faults in the JSON form above; latency as a Go
// duration string ("0s" when none), methods always an array.
func (f Faults) MarshalJSON() ([]byte, error) {
	m := f.Methods
	if m == nil {
		m = []string{}
	}
	return json.Marshal(faultsJSON{
		Latency:              f.Latency.String(),
		DropAfterCommit:      f.DropAfterCommit,
		Fail20000:            f.Fail20000,
		BadSign:              f.BadSign,
		UnsignedError:        f.UnsignedError,
		EscapedSlash:         f.EscapedSlash,
		CancelUnseenNotExist: f.CancelUnseenNotExist,
		Methods:              m,
		Seed:                 f.Seed,
	})
}

// UnmarshalJSON reads the JSON form; unknown members are an error, absent
// ones are zero. It does not validate; ParseFaults does.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFaults, err)
	}
	var lat time.Duration
	if j.Latency != "" {
		d, err := time.ParseDuration(j.Latency)
		if err != nil {
			return fmt.Errorf("%w: latency: %v", ErrBadFaults, err)
		}
		lat = d
	}
	*f = Faults{
		Latency:              lat,
		DropAfterCommit:      j.DropAfterCommit,
		Fail20000:            j.Fail20000,
		BadSign:              j.BadSign,
		UnsignedError:        j.UnsignedError,
		EscapedSlash:         j.EscapedSlash,
		CancelUnseenNotExist: j.CancelUnseenNotExist,
		Methods:              j.Methods,
		Seed:                 j.Seed,
	}
	return nil
}

// ParseFaults reads and validates faults in their JSON form.
func ParseFaults(data []byte) (Faults, error) {
	var f Faults
	if err := json.Unmarshal(data, &f); err != nil {
		if !errors.Is(err, ErrBadFaults) {
			err = fmt.Errorf("%w: %v", ErrBadFaults, err)
		}
		return Faults{}, err
	}
	return f, f.Validate()
}

// Validate checks that probabilities are within 0–1, the latency within
// 0–MaxFaultLatency and every method one of gateway.Methods. Errors wrap
// ErrBadFaults.
func (f Faults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"drop_after_commit", f.DropAfterCommit}, {"fail_20000", f.Fail20000}, {"bad_sign", f.BadSign},
		{"unsigned_error", f.UnsignedError}, {"escaped_slash", f.EscapedSlash}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return fmt.Errorf("%w: %s %v is not a probability between 0 and 1", ErrBadFaults, p.name, p.v)
		}
	}
	if f.Latency < 0 || f.Latency > MaxFaultLatency {
		return fmt.Errorf("%w: latency %v is not between 0 and %v", ErrBadFaults, f.Latency, MaxFaultLatency)
	}
	for _, m := range f.Methods {
		if !slices.Contains(gateway.Methods, m) {
			return fmt.Errorf("%w: unknown method %q (want one of %s)", ErrBadFaults, m, strings.Join(gateway.Methods, ", "))
		}
	}
	return nil
}

// Active reports whether any fault is switched on.
func (f Faults) Active() bool {
	return f.Latency > 0 || f.DropAfterCommit > 0 || f.Fail20000 > 0 || f.BadSign > 0 ||
		f.UnsignedError > 0 || f.EscapedSlash > 0 || f.CancelUnseenNotExist
}

// String describes the faults for logs and Info, "none" when inactive.
func (f Faults) String() string {
	if !f.Active() {
		return "none"
	}
	m := "all"
	if len(f.Methods) > 0 {
		m = strings.Join(f.Methods, ",")
	}
	s := fmt.Sprintf("latency=%v drop_after_commit=%v fail_20000=%v bad_sign=%v unsigned_error=%v escaped_slash=%v methods=%s",
		f.Latency, f.DropAfterCommit, f.Fail20000, f.BadSign, f.UnsignedError, f.EscapedSlash, m)
	if f.CancelUnseenNotExist {
		s += " cancel_unseen_not_exist=true"
	}
	return s
}

// RegisterFlags adds the fault flags to fs, writing into f:
// --latency, --drop-after-commit, --fail-20000, --bad-sign, --fault-methods
// (comma-separated) and --fault-seed. Call Validate after fs.Parse.
func (f *Faults) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&f.Latency, "latency", f.Latency, "sandbox fault: wait this long before handling each call")
	fs.Float64Var(&f.DropAfterCommit, "drop-after-commit", f.DropAfterCommit, "sandbox fault: probability (0-1) of committing a call, then closing the connection without a reply")
	fs.Float64Var(&f.Fail20000, "fail-20000", f.Fail20000, "sandbox fault: probability (0-1) of answering 20000 isp.unknow-error without effect")
	fs.Float64Var(&f.BadSign, "bad-sign", f.BadSign, "sandbox fault: probability (0-1) of corrupting a reply's signature")
	fs.Float64Var(&f.UnsignedError, "unsigned-error", f.UnsignedError, "sandbox fault: probability (0-1) of sending an error reply without sign")
	fs.Float64Var(&f.EscapedSlash, "escaped-slash", f.EscapedSlash, `sandbox fault: probability (0-1) of sending a reply's '/' escaped as \/ (signed unescaped)`)
	fs.Func("fault-methods", "sandbox fault: comma-separated methods the faults apply to (default all)", func(s string) error {
		f.Methods = nil
		for m := range strings.SplitSeq(s, ",") {
			if m = strings.TrimSpace(m); m != "" {
				f.Methods = append(f.Methods, m)
			}
		}
		return nil
	})
	fs.BoolVar(&f.CancelUnseenNotExist, "cancel-unseen-not-exist", f.CancelUnseenNotExist, "sandbox fault: a cancel of an unseen out_trade_no answers ACQ.TRADE_NOT_EXIST and leaves the number open")
	fs.Int64Var(&f.Seed, "fault-seed", f.Seed, "sandbox fault: RNG seed (0: random)")
}

// faultPlan is what happens to one call.
type faultPlan struct {
	latency time.Duration
	fail    bool // answer 20000 without effect
	drop    bool // commit, then close without a reply
	badSign bool // corrupt the reply's signature
	// unsignedError: send an error reply without sign
	unsignedError bool
	// escapedSlash: send '/' as `\/`, signed unescaped
	escapedSlash bool
}

// faultState holds the faults in force and their RNG.
type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func (s *faultState) set(f Faults) {
	seed := uint64(f.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	f.Methods = slices.Clone(f.Methods)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (s *faultState) get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	f.Methods = slices.Clone(f.Methods)
	return f
}

// plan rolls the faults for one call of method. A probability of 0 draws
// nothing from the RNG, so switching one fault on does not change when
// another fires.
func (s *faultState) plan(method string) faultPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	if !f.Active() || (len(f.Methods) > 0 && !slices.Contains(f.Methods, method)) {
		return faultPlan{}
	}
	roll := func(p float64) bool { return p > 0 && s.rng.Float64() < p }
	return faultPlan{
		latency: f.Latency,
		fail:    roll(f.Fail20000),
		drop:    roll(f.DropAfterCommit),
		badSign: roll(f.BadSign),

		unsignedError: roll(f.UnsignedError),
		escapedSlash:  roll(f.EscapedSlash),
	}
}
