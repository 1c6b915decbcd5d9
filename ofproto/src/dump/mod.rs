//! Decoding OpenFlow streams for inspection (hex, binary files, pcap/pcapng). SCAFFOLD: owned by the ofdump owner.
