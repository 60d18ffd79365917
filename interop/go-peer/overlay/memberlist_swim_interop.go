// This file is NOT part of the peer's package main: the interop tests overlay it
// into memberlist's own package directory at build time (`go build -overlay`),
// so that the peer can print every node memberlist knows with its real state —
// memberlist's public API hides dead and left nodes (Members()) and never sets
// Node.State in its event callbacks, so "left" and "dead" cannot be told apart
// from outside the package. It only reads, under memberlist's own lock.

package memberlist

// SwimInteropNodeState is one entry of memberlist's node map.
type SwimInteropNodeState struct {
	Node        Node
	Incarnation uint32
	State       NodeStateType
}

// SwimInteropNodeStates returns a copy of every node in the node map.
func (m *Memberlist) SwimInteropNodeStates() []SwimInteropNodeState {
	m.nodeLock.RLock()
	defer m.nodeLock.RUnlock()
	out := make([]SwimInteropNodeState, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, SwimInteropNodeState{Node: n.Node, Incarnation: n.Incarnation, State: n.State})
	}
	return out
}
