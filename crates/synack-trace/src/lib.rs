//! Views of a synack trace: ladder diagram, JSON lines, Mermaid, SVG, pcap.
