"""Reading and writing the outside world without a ROS runtime: messages, images, rosbag2."""
