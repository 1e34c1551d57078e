"""The pages people look at: the wall (数据大屏), the grid worker's phone console, the resident's
page, the visit list, the relatives' view, reports. Chinese first, English with ?lang=en."""
