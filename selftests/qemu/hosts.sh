# SPDX-License-Identifier: GPL-2.0
#
# Two "hosts" inside the test bed, for migrations across a real network
# path. Source this file; it defines:
#
#   hosts_up        create both hosts and the link between them
#   hosts_down      remove them
#   on A|B CMD...   run CMD on a host
#   link_cut        delete the link, as a pulled cable would
#   link_down       take both ends down (veth: carrier lost)
#   netem ARGS...   a netem qdisc with ARGS on both ends (loss 100%:
#                   packets vanish silently; delay, reorder)
#   hosts_heal      undo link_down and netem
#
#   +-------------------+                    +-------------------+
#   | netns kmig-a ("A")|    veth pair       | netns kmig-b ("B")|
#   |  kmig-a0          |--------------------|  kmig-b0          |
#   |  198.18.0.1/24    |                    |  198.18.0.2/24    |
#   +-------------------+                    +-------------------+
#
# 198.18.0.0/15 is the range set aside for network benchmarks (RFC 2544);
# nothing leaves the test bed's guest.

HOST_A_ADDR=198.18.0.1
HOST_B_ADDR=198.18.0.2

hosts_up() {
	ip netns add kmig-a &&
	ip netns add kmig-b &&
	ip link add kmig-a0 netns kmig-a type veth peer name kmig-b0 \
		netns kmig-b &&
	ip -n kmig-a addr add "$HOST_A_ADDR/24" dev kmig-a0 &&
	ip -n kmig-b addr add "$HOST_B_ADDR/24" dev kmig-b0 &&
	ip -n kmig-a link set lo up &&
	ip -n kmig-b link set lo up &&
	ip -n kmig-a link set kmig-a0 up &&
	ip -n kmig-b link set kmig-b0 up
}

hosts_down() {
	ip netns del kmig-a 2>/dev/null || true
	ip netns del kmig-b 2>/dev/null || true
}

on() {
	host=$1
	shift
	case "$host" in
	A) ip netns exec kmig-a "$@" ;;
	B) ip netns exec kmig-b "$@" ;;
	*) echo "on: no host '$host'" >&2; return 2 ;;
	esac
}

link_cut() {
	ip -n kmig-a link del kmig-a0
}

link_down() {
	ip -n kmig-a link set kmig-a0 down &&
	ip -n kmig-b link set kmig-b0 down
}

netem() {
	modprobe sch_netem 2>/dev/null
	tc -n kmig-a qdisc replace dev kmig-a0 root netem "$@" &&
	tc -n kmig-b qdisc replace dev kmig-b0 root netem "$@"
}

hosts_heal() {
	tc -n kmig-a qdisc del dev kmig-a0 root 2>/dev/null
	tc -n kmig-b qdisc del dev kmig-b0 root 2>/dev/null
	ip -n kmig-a link set kmig-a0 up &&
	ip -n kmig-b link set kmig-b0 up
}
