# DDS confined to this machine's loopback, on a domain of its own unless one is set (sourced by
# every script that starts ROS processes). Robots that must reach other hosts set
# ROS_AUTOMATIC_DISCOVERY_RANGE themselves after sourcing activate.sh.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 100 ))}"
