package egress

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// blocked are destinations a webhook must not reach unless the operator allows private
// endpoints: besides what netip classifies as loopback, private, link-local, multicast and
// unspecified, the shared (carrier-grade NAT), benchmarking and "this network" ranges.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// refused reports why an address must not be dialled, or "" when it may.
func refused(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		return "link-local"
	case addr.IsUnspecified() || addr.IsMulticast() || addr.IsInterfaceLocalMulticast():
		return "not a unicast"
	}
	for _, p := range blocked {
		if p.Contains(addr) {
			return "reserved"
		}
	}
	return ""
}

// guard is a net.Dialer Control function: it runs after name resolution, on the address about
// to be connected to, so a name that resolves (or re-resolves) to an internal address is
// refused too.
func guard(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if why := refused(addr); why != "" {
		return &RefusedError{Addr: addr.String(), Why: why}
	}
	return nil
}

// RefusedError is a destination refused by the SSRF guard.
type RefusedError struct {
	Addr, Why string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (private endpoints are not allowed; the operator can allow them with SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=true)", e.Addr, e.Why)
}
